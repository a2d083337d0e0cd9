package bench

import (
	"context"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/s3"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/hashicorp/go-hclog"
)

// s3Store is the S3 store on a real S3 server (versitygw, POSIX backend in
// a temporary directory, loopback HTTP), with the store's default 8 MiB x 2
// parts.
func s3Store(b *testing.B, log hclog.Logger) store.Store {
	srv := harness.StartS3(b, "bench")
	s, err := s3.New(context.Background(), s3.Options{Bucket: "bench", Prefix: "redis", Endpoint: srv.Endpoint,
		Region: srv.Region, PathStyle: true, Logger: log,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// pairRatio is the median of a[i]/b[i]: two figures of the same round.
func pairRatio(a, b series) float64 {
	var r series
	for i := range min(len(a), len(b)) {
		if b[i] != 0 {
			r = append(r, a[i]/b[i])
		}
	}
	return r.median()
}
