package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/s3"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/hashicorp/go-hclog"
)

// s3CheckTimeout bounds the bucket check when the store is opened.
const s3CheckTimeout = 30 * time.Second

// openS3 builds the S3 store and checks its bucket: a missing bucket or
// refused credentials fail at once, with the fix; a server that does not
// answer only gets a WARN (backups retry; the node still starts).
func openS3(cfg *config.Config, log hclog.Logger) (store.Store, error) {
	c := cfg.S3
	o := s3.Options{
		Bucket: c.Bucket, Prefix: c.Prefix, Endpoint: c.Endpoint, Region: c.Region, PathStyle: c.UsePathStyle(),
		StorageClass: c.StorageClass, SSE: c.SSE, SSEKMSKeyID: c.SSEKMSKeyID, Logger: log.Named("s3"),
	}
	if c.AccessKeyID != "" && c.SecretKey != "" {
		o.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretKey, os.Getenv("AWS_SESSION_TOKEN"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), s3CheckTimeout)
	defer cancel()
	s, err := s3.New(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("open S3 store: %w", err)
	}
	if err := s.Check(ctx); err != nil {
		if errors.Is(err, s3.ErrNoBucket) || errors.Is(err, store.ErrAuth) {
			return nil, fmt.Errorf("open %s: %w", s, err)
		}
		log.Warn("the S3 store did not answer the bucket check; backups will retry", "store", s.String(), "error", err)
	}
	return s, nil
}
