// Package s3 is a backup store on Amazon S3 or any server that speaks its
// API (MinIO, Ceph RGW, Cloudflare R2, Backblaze B2, versitygw), through
// aws-sdk-go-v2: the SDK's standard credential chain, and its
// feature/s3/manager uploader, which streams a backup of any size in parts
// of PartSize with Concurrency parts in flight, so memory stays about
// PartSize x (Concurrency+1) however large the backup.
//
// Atomicity rests on S3: a PutObject or a CompleteMultipartUpload makes
// an object visible whole or not at all; a failed or cancelled upload is
// aborted (its parts deleted) with a context of its own, and Put removes
// the data when a later step fails. The sidecar is written after the data.
// Data this store wrote carries the metadata x-amz-meta-autopilot-store,
// so a data object without a sidecar (a crash between the two writes) is
// listed with MetaErr set, never taken for a legacy backup, and pruned like
// the others. Multipart uploads left by a crash are aborted by the next
// Put once they are older than staleUpload.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/hashicorp/go-hclog"
)

// Defaults of Options.
const (
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 2
	DefaultRegion      = "us-east-1"
	// staleUpload is the age at which Put aborts a multipart upload left
	// under the prefix (a crashed node's); a live one is far younger.
	staleUpload = 24 * time.Hour
	// cleanupTimeout bounds the aborts and deletes that undo a failed Put.
	cleanupTimeout = 30 * time.Second
	// markerKey is the user metadata marking data this store wrote.
	markerKey = "autopilot-store"
)

// Options configures an S3 store.
type Options struct {
	Bucket string // required
	// Prefix is prepended to every key ("redis/" from s3://bucket/redis);
	// a "/" is added when missing.
	Prefix string
	// Endpoint is an S3-compatible server's URL; empty means AWS.
	Endpoint string
	// Region defaults to the SDK's (AWS_REGION, the profile's), else
	// DefaultRegion.
	Region string
	// PathStyle asks for path-style addressing (http://host/bucket/key).
	PathStyle bool
	// StorageClass, SSE ("AES256" or "aws:kms") and SSEKMSKeyID are sent
	// with every upload when set.
	StorageClass, SSE, SSEKMSKeyID string
	// Credentials replaces the SDK's standard chain (environment, shared
	// files, web identity, container and instance roles).
	Credentials aws.CredentialsProvider
	// HTTPClient replaces the default client (see newHTTPClient).
	HTTPClient aws.HTTPClient
	// PartSize (at least 5 MiB) and Concurrency bound an upload's memory.
	PartSize    int64
	Concurrency int
	Logger      hclog.Logger
}

// Store is a store.Store on S3.
type Store struct {
	client   *s3.Client
	uploader *manager.Uploader
	creds    aws.CredentialsProvider // for the key id in errors
	o        Options
	log      hclog.Logger
}

var _ store.Store = (*Store)(nil)

// ErrMissingBucket: Options.Bucket is empty.
var ErrMissingBucket = errors.New("S3 bucket not set")

// New builds a store. It makes no request; Check does.
func New(ctx context.Context, o Options) (*Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := loadAWSConfig(ctx, o)
	if err != nil {
		return nil, err
	}
	o.Region = cfg.Region
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.UsePathStyle = o.PathStyle
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize, u.Concurrency = o.PartSize, o.Concurrency
		u.LeavePartsOnError = true // Put aborts with a context of its own
		u.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	return &Store{client: client, uploader: up, creds: cfg.Credentials, o: o, log: o.Logger}, nil
}

// withDefaults checks the options and fills in what is left unset.
func (o Options) withDefaults() (Options, error) {
	if o.Bucket == "" {
		return o, ErrMissingBucket
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.PartSize < manager.MinUploadPartSize {
		o.PartSize = DefaultPartSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.HTTPClient == nil {
		o.HTTPClient = newHTTPClient()
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return o, fmt.Errorf("S3 endpoint %q: not an http(s) URL", o.Endpoint)
		}
	}
	return o, nil
}

// loadAWSConfig is the SDK's configuration for the options: its standard
// chain for what they leave unset, DefaultRegion when nothing names one.
func loadAWSConfig(ctx context.Context, o Options) (aws.Config, error) {
	loads := []func(*config.LoadOptions) error{
		config.WithHTTPClient(o.HTTPClient),
		// Checksums only where the API requires them: many S3-compatible
		// servers refuse the SDK's default trailing checksums, and every
		// backup is verified by reading it back against its sha256.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if o.Region != "" {
		loads = append(loads, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		loads = append(loads, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return cfg, fmt.Errorf("S3 configuration: %w", err)
	}
	// After the SDK's own set-up (AWS_CA_BUNDLE).
	cfg.HTTPClient = progressClient{boundedClient{cfg.HTTPClient, replyFix(o)}}
	if cfg.Region == "" { // neither S3_REGION nor AWS_REGION nor a profile's
		cfg.Region = DefaultRegion
	}
	return cfg, nil
}

// newHTTPClient has timeouts for everything but the transfer itself (a
// large part may take minutes; a stalled one is BACKUP_STALL_TIMEOUT's
// business).
func newHTTPClient() aws.HTTPClient {
	return awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = 10 * time.Second
		d.KeepAlive = 30 * time.Second
	}).WithTransportOptions(func(t *http.Transport) {
		t.TLSHandshakeTimeout = 10 * time.Second
		t.ResponseHeaderTimeout = 2 * time.Minute
		t.ExpectContinueTimeout = time.Second
		t.IdleConnTimeout = 90 * time.Second
		t.MaxIdleConnsPerHost = 8
	})
}

// String describes the store without credentials.
func (s *Store) String() string {
	where := "AWS region " + s.o.Region
	if s.o.Endpoint != "" {
		where = s.o.Endpoint
	}
	return "S3 store s3://" + s.o.Bucket + "/" + s.o.Prefix + " at " + where
}

func (s *Store) key(name string) string { return s.o.Prefix + name }

// Check lists one key of the prefix: a missing bucket or refused
// credentials are errors naming the fix. (A listing, not HeadBucket: a
// HEAD's answer has no body, and some servers answer an unknown key with
// 404, which would pass for a missing bucket.)
func (s *Store) Check(ctx context.Context) error {
	_, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.o.Bucket), Prefix: aws.String(s.o.Prefix), MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return fmt.Errorf("check bucket %s: %w", s.o.Bucket, s.classify(err, false))
	}
	return nil
}

// uploadExtras sets the per-upload options on in; the storage class only
// on data (sidecars are small and read at every List: they stay STANDARD).
func (s *Store) uploadExtras(in *s3.PutObjectInput, data bool) {
	if s.o.StorageClass != "" && data {
		in.StorageClass = types.StorageClass(s.o.StorageClass)
	}
	if s.o.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.o.SSE)
	}
	if s.o.SSEKMSKeyID != "" {
		in.SSEKMSKeyId = aws.String(s.o.SSEKMSKeyID)
	}
}

// MaxReply bounds what one S3 reply may make this program read, but an
// object's data (see httplimit.Data): a listing page of 1000 keys is
// about 1 MiB with this store's names, an error a few hundred bytes.
// The SDK decodes a reply whole, so a broken or hostile server's endless
// listing would otherwise take PID 1's memory.
const MaxReply = 8 << 20

// boundedClient bounds every reply's body to MaxReply bytes, but the data
// a request for httplimit.Data asks for.
type boundedClient struct {
	next aws.HTTPClient
	fix  string
}

func (c boundedClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if err != nil {
		return resp, err
	}
	return httplimit.Response(r, resp, MaxReply, c.fix)
}

// replyFix ends the error of a reply larger than MaxReply.
func replyFix(o Options) string {
	if o.Endpoint == "" {
		return "AWS S3 sent it for bucket " + o.Bucket + ", and S3 sends no listing page or error this large: " +
			"check what answers for S3 on this network (a proxy?)"
	}
	return "the S3 server at " + o.Endpoint + " (S3_ENDPOINT) sent it for bucket " + o.Bucket +
		", and an S3 server sends no listing page or error this large: check that S3_ENDPOINT names one"
}

// progressClient reports the request bytes it sends to the function
// store.WithProgress put in the request's context: the uploader drains its
// reader up to Concurrency parts before they are sent, and a stall
// watchdog must see those parts leave.
type progressClient struct{ next aws.HTTPClient }

func (c progressClient) Do(r *http.Request) (*http.Response, error) {
	if f := store.Progress(r.Context()); f != nil && r.Body != nil && r.Body != http.NoBody {
		r.Body = countingBody{r.Body, f}
	}
	return c.next.Do(r)
}

type countingBody struct {
	io.ReadCloser
	f func(int64)
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.f(int64(n))
	return n, err
}
