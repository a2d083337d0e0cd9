package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Put implements store.Store: the data streamed by the uploader, its size
// checked with a HEAD, then the sidecar. On any error the data is removed.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, meta store.Meta) error {
	if _, _, err := store.ParseName(name); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	s.abortStale(ctx)
	start := time.Now()
	d := store.NewDigester(r)
	if err := s.upload(ctx, s.key(name), d, "application/octet-stream"); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	m, err := d.Complete(meta)
	if err == nil {
		err = s.checkSize(ctx, s.key(name), m.Size)
	}
	if err == nil {
		err = s.putSmall(ctx, s.key(name+store.SidecarSuffix), store.EncodeMeta(m), "application/json")
	}
	if err != nil {
		s.undo(ctx, s.key(name))
		return fmt.Errorf("put %s: %w", name, err)
	}
	s.log.Debug("backup stored", "name", name, "bytes", m.Size, "duration", time.Since(start))
	return nil
}

// upload streams r to key: one PutObject when it fits in a part, else a
// multipart upload, aborted here (with a context of its own: ctx may be
// the cancelled one) when it fails.
func (s *Store) upload(ctx context.Context, key string, r io.Reader, contentType string) error {
	in := &s3.PutObjectInput{
		Bucket: aws.String(s.o.Bucket), Key: aws.String(key), Body: r,
		ContentType: aws.String(contentType), Metadata: map[string]string{markerKey: "1"},
	}
	s.uploadExtras(in, true)
	_, err := s.uploader.Upload(ctx, in)
	if err == nil {
		return nil
	}
	var mu manager.MultiUploadFailure
	if errors.As(err, &mu) && mu.UploadID() != "" {
		s.abort(ctx, key, mu.UploadID())
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	return s.classify(err, false)
}

// abort deletes the parts of a failed multipart upload.
func (s *Store) abort(ctx context.Context, key, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.o.Bucket), Key: aws.String(key), UploadId: aws.String(id),
	})
	if err = s.classifyOrNil(err, false); err != nil && !isNotFound(err) {
		s.log.Warn("could not abort a failed multipart upload; a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes its parts",
			"key", key, "error", err)
	}
}

// abortStale aborts the multipart uploads under the prefix that a crashed
// node left, older than staleUpload. Best effort: errors are logged.
func (s *Store) abortStale(ctx context.Context) {
	out, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(s.o.Bucket), Prefix: aws.String(s.o.Prefix),
	})
	if err != nil {
		s.log.Debug("could not list incomplete multipart uploads", "error", s.classify(err, false))
		return
	}
	for _, u := range out.Uploads {
		if u.Initiated != nil && time.Since(*u.Initiated) > staleUpload && u.Key != nil && u.UploadId != nil {
			s.log.Info("aborting an incomplete multipart upload left by an interrupted backup", "key", *u.Key, "initiated", *u.Initiated)
			s.abort(ctx, *u.Key, *u.UploadId)
		}
	}
}

// putSmall writes b to key in one request.
func (s *Store) putSmall(ctx context.Context, key string, b []byte, contentType string) error {
	in := &s3.PutObjectInput{
		Bucket: aws.String(s.o.Bucket), Key: aws.String(key), Body: bytes.NewReader(b),
		ContentType: aws.String(contentType), ContentLength: aws.Int64(int64(len(b))),
	}
	s.uploadExtras(in, false)
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("write %s: %w", key, s.classify(err, false))
	}
	return nil
}

// checkSize asks S3 what it stored under key.
func (s *Store) checkSize(ctx context.Context, key string, size int64) error {
	out, err := s.head(ctx, key)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if got := aws.ToInt64(out.ContentLength); got != size {
		return fmt.Errorf("S3 holds %d bytes, sent %d: %w", got, size, store.ErrIntegrity)
	}
	return nil
}

func (s *Store) head(ctx context.Context, key string) (*s3.HeadObjectOutput, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, s.classify(err, false)
	}
	return out, nil
}

// undo removes the object at key after a failed Put, even when ctx is
// already cancelled.
func (s *Store) undo(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := s.deleteKey(ctx, key); err != nil && !isNotFound(err) {
		s.log.Warn("could not remove the data of a failed put", "key", key, "error", err)
	}
}

func (s *Store) deleteKey(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(key)})
	return s.classifyOrNil(err, false)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if _, _, err := store.ParseName(name); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	rc, err := s.get(httplimit.Data(ctx), s.key(name), name)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return rc, nil
}

func (s *Store) get(ctx context.Context, key, name string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, s.classify(err, false)
	}
	want := int64(-1)
	if out.ContentLength != nil {
		want = *out.ContentLength
	}
	return store.ExactReader(out.Body, want, name), nil
}

// Delete implements store.Store: the data first, then the sidecar. S3
// answers a DELETE of a missing key with success, so a HEAD tells whether
// there was anything.
func (s *Store) Delete(ctx context.Context, name string) error {
	if _, _, err := store.ParseName(name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	found := false
	for _, key := range []string{s.key(name), s.key(name + store.SidecarSuffix)} {
		_, err := s.head(ctx, key)
		switch {
		case isNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("delete %s: %w", name, err)
		}
		found = true
		if err := s.deleteKey(ctx, key); err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
	}
	if !found {
		return fmt.Errorf("delete %s: %w", name, store.ErrNotFound)
	}
	return nil
}
