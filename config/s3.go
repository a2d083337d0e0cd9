package config

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// S3Config selects and configures the S3 backup store (S3_*); Bucket is
// empty when S3_URL is unset.
type S3Config struct {
	// URL is S3_URL as given; Bucket and Prefix come from it (Prefix
	// without leading slash, with a trailing one when not empty).
	URL, Bucket, Prefix string
	// Endpoint (S3_ENDPOINT) is an S3-compatible server; empty means AWS.
	Endpoint string
	// Region (S3_REGION); empty means AWS_REGION, else us-east-1.
	Region string
	// PathStyle (S3_FORCE_PATH_STYLE); nil means true with an endpoint,
	// false without.
	PathStyle *bool
	// StorageClass (S3_STORAGE_CLASS), SSE (S3_SSE) and SSEKMSKeyID
	// (S3_SSE_KMS_KEY_ID) are sent with every upload when set.
	StorageClass, SSE, SSEKMSKeyID string
	// AccessKeyID (AWS_ACCESS_KEY_ID) and SecretKey (AWS_SECRET_ACCESS_KEY
	// or AWS_SECRET_ACCESS_KEY_FILE; secret): when both are set the store
	// uses them (with AWS_SESSION_TOKEN); otherwise the AWS SDK's standard
	// chain finds credentials (profile, web identity, roles).
	AccessKeyID, SecretKey string
}

// Enabled reports whether S3_URL selects the S3 store.
func (s *S3Config) Enabled() bool { return s.Bucket != "" }

// UsePathStyle resolves S3_FORCE_PATH_STYLE's default.
func (s *S3Config) UsePathStyle() bool {
	if s.PathStyle != nil {
		return *s.PathStyle
	}
	return s.Endpoint != ""
}

const groupS3 = "S3"

func s3str(f func(*S3Config) *string) func(*Config, string) error {
	return str(func(c *Config) *string { return f(&c.S3) })
}

var s3Settings = []setting{
	{Env: "S3_URL", Group: groupS3, Help: "s3://BUCKET or s3://BUCKET/PREFIX: keep backups in S3 or an S3-compatible server. Set only one of BACKUP_DIR, MANTA_* and S3_URL.",
		Set: setS3URL},
	{Env: "S3_ENDPOINT", Group: groupS3, Help: "URL of an S3-compatible server (http://minio:9000); empty means AWS.",
		Set: into(func(c *Config) *string { return &c.S3.Endpoint }, parseURL)},
	{Env: "S3_REGION", Group: groupS3, Help: "Region; empty means AWS_REGION, else us-east-1.",
		Set: s3str(func(s *S3Config) *string { return &s.Region })},
	{Env: "S3_FORCE_PATH_STYLE", Group: groupS3, Bool: true, Help: "Path-style addressing (http://host/bucket/key); default true with S3_ENDPOINT, false without.",
		Set: func(c *Config, v string) error {
			b, err := parseBool(v)
			c.S3.PathStyle = &b
			return err
		}},
	{Env: "S3_STORAGE_CLASS", Group: groupS3, Help: "Storage class of uploaded backups (STANDARD_IA, INTELLIGENT_TIERING...); empty means the bucket's default.",
		Set: into(func(c *Config) *string { return &c.S3.StorageClass }, parseStorageClass)},
	{Env: "S3_SSE", Group: groupS3, Help: "Server-side encryption of uploads: AES256 or aws:kms.",
		Set: into(func(c *Config) *string { return &c.S3.SSE }, parseSSE)},
	{Env: "S3_SSE_KMS_KEY_ID", Group: groupS3, Help: "KMS key for S3_SSE=aws:kms; empty means the account's default key.",
		Set: s3str(func(s *S3Config) *string { return &s.SSEKMSKeyID })},
	{Env: "AWS_ACCESS_KEY_ID", Group: groupS3, Help: "Access key id; the AWS SDK's standard chain reads it (with AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, roles...).",
		Set: s3str(func(s *S3Config) *string { return &s.AccessKeyID })},
	{Env: "AWS_SECRET_ACCESS_KEY", Group: groupS3, Secret: true, Help: "Secret access key of AWS_ACCESS_KEY_ID (AWS_SECRET_ACCESS_KEY_FILE: from a file).",
		Set: s3str(func(s *S3Config) *string { return &s.SecretKey })},
}

func init() {
	settings = append(settings, s3Settings...)
}

// bucketRE: S3's bucket naming rules (3-63 of a-z 0-9 . -, starting and
// ending with a letter or digit).
var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func setS3URL(c *Config, v string) error {
	const form = "must be s3://BUCKET or s3://BUCKET/PREFIX"
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "s3" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New(form)
	}
	if !bucketRE.MatchString(u.Host) {
		return errors.New(form + ", with a bucket name of 3 to 63 lowercase letters, digits, dots and hyphens")
	}
	prefix := strings.Trim(u.Path, "/")
	if strings.Contains(prefix, "//") {
		return errors.New(form + ", without empty path segments")
	}
	if prefix != "" {
		prefix += "/"
	}
	c.S3.URL, c.S3.Bucket, c.S3.Prefix = v, u.Host, prefix
	return nil
}

var storageClassRE = regexp.MustCompile(`^[A-Z][A-Z_]*$`)

func parseStorageClass(v string) (string, error) {
	switch {
	case !storageClassRE.MatchString(v):
		return "", errors.New("must be an S3 storage class in capitals, like STANDARD_IA")
	case v == "GLACIER" || v == "DEEP_ARCHIVE":
		return "", errors.New("is an archive class whose objects cannot be read without a retrieval; a restore needs to read at once: use GLACIER_IR, STANDARD_IA or INTELLIGENT_TIERING")
	}
	return v, nil
}

func parseSSE(v string) (string, error) {
	switch v {
	case "AES256", "aws:kms":
		return v, nil
	}
	return "", errors.New("must be AES256 or aws:kms")
}

// validateS3 checks that at most one store is selected and that S3
// options are not given without S3_URL.
func (c *Config) validateS3() error {
	if !c.S3.Enabled() {
		for _, o := range []struct{ env, val string }{
			{"S3_ENDPOINT", c.S3.Endpoint}, {"S3_REGION", c.S3.Region}, {"S3_STORAGE_CLASS", c.S3.StorageClass},
			{"S3_SSE", c.S3.SSE}, {"S3_SSE_KMS_KEY_ID", c.S3.SSEKMSKeyID},
		} {
			if o.val != "" {
				return &Error{Var: o.env, Value: o.val, Reason: "is set but S3_URL is not (S3_URL selects the S3 store)"}
			}
		}
		return nil
	}
	switch {
	case c.BackupDir != "":
		return &Error{Var: "BACKUP_DIR", Value: c.BackupDir, Reason: "is set and so is S3_URL (" + c.S3.URL + "): set only one of BACKUP_DIR, MANTA_* and S3_URL"}
	case c.MantaEnabled():
		return &Error{Var: "S3_URL", Value: c.S3.URL, Reason: "is set and so is Manta (MANTA_USER " + c.MantaUser + "): set only one of BACKUP_DIR, MANTA_* and S3_URL"}
	case c.S3.SSEKMSKeyID != "" && c.S3.SSE != "aws:kms":
		return &Error{Var: "S3_SSE_KMS_KEY_ID", Value: c.S3.SSEKMSKeyID, Reason: "needs S3_SSE=aws:kms"}
	case c.S3.SecretKey != "" && c.S3.AccessKeyID == "":
		return &Error{Var: "AWS_SECRET_ACCESS_KEY", Reason: "is set (or its _FILE) but AWS_ACCESS_KEY_ID is not: set the key id the secret belongs to"}
	}
	return nil
}
