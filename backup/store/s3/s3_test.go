package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/storetest"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/s3proxy"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

var buckets atomic.Int32

// newBucket adds a fresh bucket to srv.
func newBucket(t *testing.T, srv *harness.S3) string {
	t.Helper()
	b := fmt.Sprintf("backups-%d", buckets.Add(1))
	srv.AddBucket(t, b)
	return b
}

// open builds a store on srv (or endpoint, a proxy in front of it) with
// srv's keys; edit adjusts the options first.
func open(t *testing.T, srv *harness.S3, endpoint, bucket string, edit func(*Options)) *Store {
	t.Helper()
	if endpoint == "" {
		endpoint = srv.Endpoint
	}
	o := Options{Bucket: bucket, Prefix: "redis/cluster-1", Endpoint: endpoint, Region: srv.Region, PathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")}
	if edit != nil {
		edit(&o)
	}
	s, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// rawPut writes an object under the store's prefix, bypassing Put.
func rawPut(t *testing.T, s *Store, name string, data []byte) {
	t.Helper()
	_, err := s.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(s.o.Bucket), Key: aws.String(s.key(name)), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatalf("raw put %s: %v", name, err)
	}
}

func TestContract(t *testing.T) {
	srv := harness.StartS3(t)
	storetest.Run(t, func(t *testing.T) storetest.Fixture {
		s := open(t, srv, "", newBucket(t, srv), nil)
		return storetest.Fixture{Store: s, PutRaw: func(t *testing.T, name string, data []byte) { rawPut(t, s, name, data) }}
	})
}

// A wrong secret, or a key the server does not know, is an error naming
// the key id and never the secret, from the bucket check and from every
// operation.
func TestWrongCredentials(t *testing.T) {
	srv := harness.StartS3(t)
	bucket := newBucket(t, srv)
	for _, tc := range []struct{ name, key, secret, want string }{
		{"wrong secret", srv.AccessKey, "wrong-" + srv.SecretKey, "AWS_SECRET_ACCESS_KEY"},
		{"unknown key", "AKUNKNOWN0000000", srv.SecretKey, "AKUNKNOWN0000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, srv, "", bucket, func(o *Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider(tc.key, tc.secret, "")
			})
			ctx := testCtx(t)
			errs := map[string]error{"check": s.Check(ctx)}
			_, errs["list"] = s.List(ctx)
			errs["put"] = s.Put(ctx, "dump-20261121193000.rdb", strings.NewReader("x"), store.Meta{})
			for op, err := range errs {
				var ae *AuthError
				if !errors.Is(err, store.ErrAuth) || !errors.As(err, &ae) {
					t.Errorf("%s with %s: %v, want an AuthError", op, tc.name, err)
					continue
				}
				msg := err.Error()
				for _, want := range []string{tc.key, tc.want} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: %q does not name %s", op, msg, want)
					}
				}
				if strings.Contains(msg, srv.SecretKey) {
					t.Errorf("%s: the error shows the secret: %q", op, msg)
				}
			}
		})
	}
}

// A bucket that does not exist is a clear error from the check, naming
// the bucket and the fix, not an empty store.
func TestMissingBucket(t *testing.T) {
	srv := harness.StartS3(t)
	s := open(t, srv, "", "no-such-bucket", nil)
	ctx := testCtx(t)
	err := s.Check(ctx)
	if !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), "no-such-bucket") || !strings.Contains(err.Error(), "S3_URL") {
		t.Fatalf("check of a missing bucket: %v, want ErrNoBucket naming it and S3_URL", err)
	}
	if _, err := s.List(ctx); !errors.Is(err, ErrNoBucket) {
		t.Fatalf("list of a missing bucket: %v, want ErrNoBucket", err)
	}
}

// Data that this store wrote but whose sidecar never came (a crash
// between the two) is neither good nor a legacy backup; a foreign object
// without a sidecar is legacy.
func TestDataWithoutSidecar(t *testing.T) {
	srv := harness.StartS3(t)
	s := open(t, srv, "", newBucket(t, srv), nil)
	ctx := testCtx(t)
	orphan, legacy := "dump-20261121193000.rdb.zst", "dump-20190101000000.rdb.gz"
	if err := s.upload(ctx, s.key(orphan), strings.NewReader("half a backup"), "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
	rawPut(t, s, legacy, []byte("legacy"))
	infos, err := s.List(ctx)
	if err != nil || len(infos) != 2 {
		t.Fatalf("list = %+v, %v", infos, err)
	}
	if i := infos[0]; i.Name != legacy || i.Meta != nil || i.MetaErr != nil {
		t.Errorf("legacy backup listed as %+v, want no Meta and no MetaErr", i)
	}
	if i := infos[1]; i.Name != orphan || i.Meta != nil || !errors.Is(i.MetaErr, errNoSidecar) || i.Good() {
		t.Errorf("orphaned data listed as %+v, want MetaErr %v", i, errNoSidecar)
	}
	if i, err := s.Stat(ctx, orphan); err != nil || !errors.Is(i.MetaErr, errNoSidecar) {
		t.Errorf("stat of orphaned data = %+v, %v; want MetaErr %v", i, err, errNoSidecar)
	}
}

// A multipart upload whose producer fails leaves no object and no
// incomplete upload (its parts are aborted).
func TestFailedMultipartIsAborted(t *testing.T) {
	srv := harness.StartS3(t)
	s := open(t, srv, "", newBucket(t, srv), func(o *Options) { o.PartSize = 5 << 20 })
	ctx := testCtx(t)
	err := s.Put(ctx, "dump-20261121193000.rdb", failAfter(12<<20), store.Meta{})
	if err == nil {
		t.Fatal("put from a failing producer succeeded")
	}
	if got := storetest.Names(t, s); len(got) != 0 {
		t.Fatalf("list after a failed multipart put = %v", got)
	}
	out, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.o.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Fatalf("%d incomplete multipart uploads left after a failed put", len(out.Uploads))
	}
}

var errProducer = errors.New("producer failed")

// failAfter returns n bytes, then errProducer.
func failAfter(n int64) io.Reader {
	return io.MultiReader(io.LimitReader(zeros{}, n), errReader{})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errProducer }

// TestEndlessListing: a listing that does not end (a broken or hostile
// server) fails once MaxReply bytes were read, naming the limit and the
// fix, instead of growing PID 1's memory; a backup's data larger than
// MaxReply still downloads whole.
func TestEndlessListing(t *testing.T) {
	srv := harness.StartS3(t)
	proxy := s3proxy.New(t, srv.Endpoint)
	s := open(t, srv, proxy.URL, newBucket(t, srv), nil)
	storetest.EndlessListing(t, s, "dump-20261128180000.rdb", MaxReply, func() {
		proxy.Inject(s3proxy.Fault{Method: http.MethodGet, Query: "list-type", Kind: s3proxy.Endless})
	}, "more than 8 MiB", "the S3 server at "+proxy.URL+" (S3_ENDPOINT)")
}
