package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// ErrNoBucket: the bucket does not exist.
var ErrNoBucket = errors.New("S3 bucket does not exist")

// AuthError is S3 refusing our credentials or denying access (401, 403).
// It names the access key id, never the secret, and wraps store.ErrAuth.
type AuthError struct {
	Status int
	Code   string // e.g. InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied
	KeyID  string // the access key id used, or why it is unknown
	Bucket string
}

func (e *AuthError) Error() string {
	switch e.Code {
	case "InvalidAccessKeyId", "XAdminUserNotFound":
		return fmt.Sprintf("S3 does not know access key %s (%d %s): check AWS_ACCESS_KEY_ID (or the profile or role that provides it)",
			e.KeyID, e.Status, e.Code)
	case "SignatureDoesNotMatch":
		return fmt.Sprintf("S3 refused the signature of access key %s (%d %s): the secret does not belong to it; check AWS_SECRET_ACCESS_KEY or AWS_SECRET_ACCESS_KEY_FILE",
			e.KeyID, e.Status, e.Code)
	}
	return fmt.Sprintf("S3 denied access key %s to bucket %s (%d %s): check AWS_ACCESS_KEY_ID, its secret (AWS_SECRET_ACCESS_KEY or AWS_SECRET_ACCESS_KEY_FILE) and the key's permissions on the bucket",
		e.KeyID, e.Bucket, e.Status, e.Code)
}

// Unwrap makes errors.Is(err, store.ErrAuth) true.
func (e *AuthError) Unwrap() error { return store.ErrAuth }

// classify turns the SDK's errors into the store's sentinels: 404s into
// store.ErrNotFound (or ErrNoBucket), 401/403 into *AuthError; anything
// else is returned as it is. bucketOp: the request was about the bucket
// itself (a 404 without a code means the bucket is missing).
func (s *Store) classify(err error, bucketOp bool) error {
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	switch {
	case code == "NoSuchBucket" || (bucketOp && status == http.StatusNotFound):
		return fmt.Errorf("%w: %s at %s: create it or fix S3_URL", ErrNoBucket, s.o.Bucket, s.endpoint())
	case status == http.StatusUnauthorized || status == http.StatusForbidden ||
		code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied" ||
		code == "XAdminUserNotFound": // versitygw's InvalidAccessKeyId (a 404)
		if code == "" {
			code = http.StatusText(status)
		}
		return &AuthError{Status: status, Code: code, KeyID: s.keyID(), Bucket: s.o.Bucket}
	case status == http.StatusNotFound || code == "NoSuchKey" || code == "NotFound":
		return fmt.Errorf("%w (%s)", store.ErrNotFound, code)
	}
	return err
}

func (s *Store) classifyOrNil(err error, bucketOp bool) error {
	if err == nil {
		return nil
	}
	return s.classify(err, bucketOp)
}

func (s *Store) endpoint() string {
	if s.o.Endpoint != "" {
		return s.o.Endpoint
	}
	return "AWS region " + s.o.Region
}

// keyID is the access key id the credentials provide (cached by the SDK;
// not a secret), for error messages.
func (s *Store) keyID() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := s.creds.Retrieve(ctx)
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return c.AccessKeyID
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
