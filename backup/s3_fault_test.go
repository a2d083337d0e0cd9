package backup

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	s3store "github.com/autopilotpattern/redis-autopilot/backup/store/s3"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/s3proxy"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redis/go-redis/v9"
)

// fillRandom writes mb keys of 1 MiB of random bytes: a dump that does not
// compress, so that its upload takes several parts.
func fillRandom(t *testing.T, c *redis.Client, mb int) {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	for i := range mb {
		b := make([]byte, 1<<20)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, fmt.Sprintf("random:%d", i), b, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// s3Env is a versitygw with a fault proxy in front of it.
type s3Env struct {
	srv   *harness.S3
	proxy *s3proxy.Proxy
	n     int
}

// store makes a store on a fresh bucket, through the proxy, with 5 MiB
// parts; data is the path prefix of backups in it, for faults.
func (e *s3Env) store(t *testing.T) (s store.Store, data string) {
	t.Helper()
	e.n++
	bucket := fmt.Sprintf("faults-%d", e.n)
	e.srv.AddBucket(t, bucket)
	st, err := s3store.New(context.Background(), s3store.Options{
		Bucket: bucket, Prefix: "redis", Endpoint: e.proxy.URL, Region: e.srv.Region, PathStyle: true, PartSize: 5 << 20,
		Credentials: credentials.NewStaticCredentialsProvider(e.srv.AccessKey, e.srv.SecretKey, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, "/" + bucket + "/redis/dump-"
}

// incomplete counts the bucket's multipart uploads that were neither
// completed nor aborted, asking the server directly.
func (e *s3Env) incomplete(t *testing.T, bucket string) int {
	t.Helper()
	c := s3.New(s3.Options{Region: e.srv.Region, BaseEndpoint: aws.String(e.srv.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(e.srv.AccessKey, e.srv.SecretKey, "")})
	out, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	return len(out.Uploads)
}

// S3 faults during a backup, through a proxy in front of a real S3
// server: a single failed part is retried by the SDK and the backup
// succeeds; a failure that persists (errors, resets, a stall, truncated
// read-backs) fails the backup with last-backup unchanged, nothing listed
// and no multipart upload left, and the next run succeeds.
func TestSchedulerS3Faults(t *testing.T) {
	consul := harness.StartConsul(t)
	log, _ := testLog(t)
	r, c := startRedis(t)
	fillRandom(t, r.Client, 12)
	reg := newRegistry(t, consul, log)
	srv := harness.StartS3(t)
	env := &s3Env{srv: srv, proxy: s3proxy.New(t, srv.Endpoint)}
	cases := []struct {
		name  string
		fault func(data string) s3proxy.Fault
		fails bool
	}{
		{"one 503 on a part is retried", func(d string) s3proxy.Fault {
			return s3proxy.Fault{Method: "PUT", PathPrefix: d, Query: "partNumber", Count: 1, Kind: s3proxy.Status, Status: 503}
		}, false},
		{"500 on every part", func(d string) s3proxy.Fault {
			return s3proxy.Fault{Method: "PUT", PathPrefix: d, Query: "partNumber", Kind: s3proxy.Status, Status: 500}
		}, true},
		{"reset mid-upload", func(d string) s3proxy.Fault {
			return s3proxy.Fault{Method: "PUT", PathPrefix: d, Query: "partNumber", Kind: s3proxy.Reset, After: 1 << 20}
		}, true},
		{"stalled part", func(d string) s3proxy.Fault {
			return s3proxy.Fault{Method: "PUT", PathPrefix: d, Query: "partNumber", Kind: s3proxy.Stall}
		}, true},
		{"truncated read-back", func(d string) s3proxy.Fault {
			return s3proxy.Fault{Method: "GET", PathPrefix: d, Kind: s3proxy.Truncate, After: 3 << 20}
		}, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, data := env.store(t)
			ctx := testCtx(t, 2*time.Minute)
			if err := reg.Put(ctx, registry.KeyLastBackup, oldBackup); err != nil {
				t.Fatal(err)
			}
			f := tc.fault(data)
			env.proxy.Inject(f)
			defer env.proxy.Clear()
			clock := time.Now().UTC().Add(time.Duration(i) * time.Hour).Truncate(time.Second)
			sch, err := NewScheduler(SchedulerOptions{
				Backup: Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd",
					StallTimeout: testStallTimeout, Now: func() time.Time { return clock }},
				Registry: reg, Node: fixedRole(redisnode.RoleMaster, true), Holder: "n1",
				Interval: time.Second, TTL: time.Hour, Log: log,
			})
			if err != nil {
				t.Fatal(err)
			}
			d, err := sch.Tick(ctx)
			last, ok := lastFaulted(env.proxy, f)
			if !ok {
				t.Fatalf("the fault %+v never applied; Tick = %+v, %v", f, d, err)
			}
			if !tc.fails {
				checkRetried(t, env.proxy, f)
				if err != nil || d.Backup == "" {
					t.Fatalf("Tick after one retried fault = %+v, %v", d, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Tick with %s = %+v, want an error", tc.name, d)
			}
			t.Logf("%v after the last faulted request: %v", time.Since(last).Round(time.Millisecond), err)
			if f.Kind == s3proxy.Stall {
				// From the last stalled part: until then parts went out.
				checkStallError(t, err, s, time.Since(last))
			}
			if got, _, _ := reg.Get(ctx, registry.KeyLastBackup); got != oldBackup {
				t.Fatalf("last-backup changed to %q after a failed backup", got)
			}
			harness.Eventually(t, 30*time.Second, func() error {
				if n := names(t, s); len(n) != 0 {
					return fmt.Errorf("the store lists %v after a failed backup", n)
				}
				if n := env.incomplete(t, bucketOf(data)); n != 0 {
					return fmt.Errorf("%d multipart uploads left", n)
				}
				return nil
			})
			env.proxy.Clear()
			clock = clock.Add(time.Second)
			d, err = sch.Tick(ctx) // the next run backs up
			if err != nil || d.Backup == "" {
				t.Fatalf("after the fault: Tick = %+v, %v", d, err)
			}
			if got, _, _ := reg.Get(ctx, registry.KeyLastBackup); got != d.Backup {
				t.Fatalf("last-backup %q, want %s", got, d.Backup)
			}
		})
	}
}

func bucketOf(data string) string {
	for i := 1; i < len(data); i++ {
		if data[i] == '/' {
			return data[1:i]
		}
	}
	return data[1:]
}

// lastFaulted returns when the fault last applied.
func lastFaulted(p *s3proxy.Proxy, f s3proxy.Fault) (time.Time, bool) {
	var last time.Time
	for _, q := range p.Requests() {
		if q.Fault == f.Kind && q.Method == f.Method {
			last = q.Time
		}
	}
	return last, !last.IsZero()
}

// checkRetried checks that the request the fault hit was sent again.
func checkRetried(t *testing.T, p *s3proxy.Proxy, f s3proxy.Fault) {
	t.Helper()
	var hit *s3proxy.Request
	for _, q := range p.Requests() {
		switch {
		case hit == nil && q.Fault == f.Kind:
			hit = &q
		case hit != nil && q.Fault == 0 && q.Method == hit.Method && q.Path == hit.Path && q.Query == hit.Query:
			return
		}
	}
	t.Errorf("the request the fault hit (%+v) was not retried", hit)
}
