// Package manta is a backup store on Joyent Manta through triton-go v1.8.5's
// storage client, signing requests with the in-memory private key
// (rsa-sha256 or ecdsa-sha*).
//
// Atomicity rests on Manta itself: an object PUT is committed only when its
// request body completes, so a failed or cancelled Put leaves nothing under
// the name. Mantav2 has no snaplinks, so there is no temp-then-rename; the
// sidecar, written after the data, marks a complete backup.
package manta

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	"github.com/hashicorp/go-hclog"
	triton "github.com/joyent/triton-go"
	"github.com/joyent/triton-go/authentication"
	"github.com/joyent/triton-go/storage"
)

// Options configures a Manta store.
type Options struct {
	URL     string // MANTA_URL, e.g. https://us-east.manta.joyent.com; required
	User    string // MANTA_USER, the account login; required
	Subuser string // MANTA_SUBUSER; optional
	Role    string // MANTA_ROLE, sent as the Role header when set
	// KeyID is MANTA_KEY_ID: the key's MD5 fingerprint (colon hex, with or
	// without "MD5:") or its "SHA256:..." fingerprint. Required.
	KeyID string
	// Signer is the parsed MANTA_PRIVATE_KEY (see ParsePrivateKey); it is
	// kept in memory only. Required.
	Signer crypto.Signer
	// Bucket is the directory holding backups, a full path such as
	// /<user>/stor/triton-redis; created (with its parents) as needed.
	Bucket string
	// HTTPClient replaces triton-go's default client (timeouts, TLS).
	HTTPClient *http.Client
	// ResponseTimeout bounds the wait for a response's headers once a
	// request (with its body) is sent; 0 waits as long as the context
	// allows. Ignored with HTTPClient (set its transport's instead).
	// A Manta that accepts a connection and never answers would
	// otherwise hold its caller forever.
	ResponseTimeout time.Duration
	// PageSize is the directory listing page, 1..1024; default 1024.
	PageSize int
	// Logger gets debug lines; default: none.
	Logger hclog.Logger
}

// Errors from New.
var (
	ErrMissingOption = errors.New("missing Manta option")
	ErrBadBucket     = errors.New("MANTA_BUCKET must be a directory under /<user>/stor or /<user>/public")
)

// MaxReply bounds what one Manta reply may make this program read, but an
// object's data (see httplimit.Data): a directory page of 1024 entries is
// about 300 KiB, an error a few hundred bytes. triton-go reads a listing
// whole, so a broken or hostile server's endless one would otherwise
// take PID 1's memory.
const MaxReply = 4 << 20

// Store is a store.Store on Manta.
type Store struct {
	objects  *storage.ObjectsClient
	dirs     *storage.DirectoryClient
	bucket   string
	pageSize int
	keyID    string // as the user gave it, for messages
	user     string // user or user/subuser, for messages
	role     string
	log      hclog.Logger

	mu        sync.Mutex
	bucketsOK bool // the bucket directory is known to exist
}

var _ store.Store = (*Store)(nil)

// New validates o and builds a store. It makes no request.
func New(o Options) (*Store, error) {
	for name, v := range map[string]string{"URL": o.URL, "User": o.User, "KeyID": o.KeyID, "Bucket": o.Bucket} {
		if v == "" {
			return nil, fmt.Errorf("%w: %s", ErrMissingOption, name)
		}
	}
	if o.Signer == nil {
		return nil, fmt.Errorf("%w: Signer", ErrMissingOption)
	}
	if u, err := url.Parse(o.URL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("manta URL %q: not an http(s) URL", o.URL)
	}
	bucket := path.Clean(o.Bucket)
	parts := strings.Split(bucket, "/")
	if bucket != o.Bucket && bucket+"/" != o.Bucket || len(parts) < 4 || parts[1] != o.User ||
		(parts[2] != "stor" && parts[2] != "public") {
		return nil, fmt.Errorf("bucket %q: %w", o.Bucket, ErrBadBucket)
	}
	sig, err := newSigner(o.User, o.Subuser, o.KeyID, o.Signer)
	if err != nil {
		return nil, err
	}
	sc, err := storage.NewClient(&triton.ClientConfig{MantaURL: o.URL, AccountName: o.User, Username: o.Subuser, Signers: []authentication.Signer{sig}})
	if err != nil {
		return nil, fmt.Errorf("manta client: %w", err)
	}
	sc.Client.HTTPClient = withHeaders(sc.Client.HTTPClient, o.HTTPClient, o.Role, o.ResponseTimeout)
	sc.Client.HTTPClient.Transport = &httplimit.Transport{Next: sc.Client.HTTPClient.Transport, Limit: MaxReply,
		Fix: "the Manta at " + o.URL + " (MANTA_URL) sent it, and Manta sends no directory page or error this large: check that MANTA_URL names Manta"}
	s := &Store{
		objects: sc.Objects(), dirs: sc.Dir(), bucket: bucket, pageSize: o.PageSize,
		keyID: o.KeyID, user: o.User, role: o.Role, log: o.Logger,
	}
	if o.Subuser != "" {
		s.user = o.User + "/" + o.Subuser
	}
	if s.pageSize <= 0 || s.pageSize > 1024 {
		s.pageSize = 1024
	}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	return s, nil
}

// String describes the store without credentials.
func (s *Store) String() string { return "manta store " + s.bucket + " as " + s.user }

func (s *Store) path(name string) string { return s.bucket + "/" + name }

// withHeaders returns a client whose transport adds Role (when set) and
// asks for the identity encoding, so Go never transparently gunzips a
// .gz object that was stored with a Content-Encoding. The default
// client's transport gets the response timeout.
func withHeaders(def, given *http.Client, role string, timeout time.Duration) *http.Client {
	c := *def
	if given != nil {
		c = *given
		c.CheckRedirect = def.CheckRedirect // triton-go follows no redirects
	} else if t, ok := c.Transport.(*http.Transport); ok && timeout > 0 {
		t = t.Clone()
		t.ResponseHeaderTimeout = timeout
		c.Transport = t
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = headerTransport{next: next, role: role}
	return &c
}

type headerTransport struct {
	next http.RoundTripper
	role string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Encoding", "identity")
	if h.role != "" {
		r.Header.Set("Role", h.role)
	}
	return h.next.RoundTrip(r)
}

// ensureBucket creates the bucket directory chain once per store.
func (s *Store) ensureBucket(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bucketsOK {
		return nil
	}
	parts := strings.Split(s.bucket, "/") // "", user, stor, a, b...
	for i := 4; i <= len(parts); i++ {
		dir := strings.Join(parts[:i], "/")
		if err := s.dirs.Put(ctx, &storage.PutDirectoryInput{DirectoryName: dir}); err != nil {
			return fmt.Errorf("create directory %s: %w", dir, s.classify(err))
		}
	}
	s.bucketsOK = true
	return nil
}
