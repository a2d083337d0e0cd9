package manta

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/storetest"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
	"github.com/hashicorp/go-hclog"
)

func assertNoObjects(t *testing.T, s *Store, srv *mantaserver.Server) {
	t.Helper()
	if got := srv.Objects(); len(got) != 0 {
		t.Fatalf("objects on the server after a failed put: %v", got)
	}
	if got := storetest.Names(t, s); len(got) != 0 {
		t.Fatalf("list after a failed put: %v", got)
	}
}

func TestPutFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault func(*mantaserver.Server) mantaserver.Fault
	}{
		{"503 on data", func(*mantaserver.Server) mantaserver.Fault {
			return mantaserver.Fault{Method: http.MethodPut, PathPrefix: bucket + "/dump-", Count: 1, Kind: mantaserver.Status}
		}},
		{"500 on sidecar", func(*mantaserver.Server) mantaserver.Fault {
			return mantaserver.Fault{Method: http.MethodPut, PathPrefix: bucket + "/" + name + store.SidecarSuffix,
				Kind: mantaserver.Status, Status: 500}
		}},
		{"reset midway through data", func(*mantaserver.Server) mantaserver.Fault {
			return mantaserver.Fault{Method: http.MethodPut, PathPrefix: bucket + "/dump-", Kind: mantaserver.Reset, After: 100 << 10}
		}},
		{"reset midway through sidecar", func(*mantaserver.Server) mantaserver.Fault {
			return mantaserver.Fault{Method: http.MethodPut, PathPrefix: bucket + "/" + name + store.SidecarSuffix,
				Kind: mantaserver.Reset, After: 10}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, srv := newStore(t, nil)
			srv.Inject(tc.fault(srv))
			data := storetest.Data(t, 1<<20)
			if err := s.Put(context.Background(), name, bytes.NewReader(data), store.Meta{}); err == nil {
				t.Fatal("put succeeded through the fault")
			}
			assertNoObjects(t, s, srv)
		})
	}
}

func TestPutStallHonoursContext(t *testing.T) {
	s, srv := newStore(t, nil)
	srv.Inject(mantaserver.Fault{Method: http.MethodPut, PathPrefix: bucket + "/dump-", Kind: mantaserver.Stall})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Put(ctx, name, bytes.NewReader(storetest.Data(t, 64<<10)), store.Meta{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put into a stalled server: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("put returned after %s", d)
	}
	srv.ClearFaults()
	assertNoObjects(t, s, srv)
}

func TestGetFaults(t *testing.T) {
	for _, kind := range []mantaserver.FaultKind{mantaserver.Truncate, mantaserver.Reset} {
		t.Run(fmt.Sprint(kind), func(t *testing.T) {
			s, srv := newStore(t, nil)
			data := storetest.Data(t, 256<<10)
			if err := s.Put(context.Background(), name, bytes.NewReader(data), store.Meta{}); err != nil {
				t.Fatal(err)
			}
			srv.Inject(mantaserver.Fault{Method: http.MethodGet, PathPrefix: bucket + "/" + name, Count: 1, Kind: kind})
			rc, err := s.Get(context.Background(), name)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err == nil {
				t.Fatalf("read %d of %d bytes without an error", len(got), len(data))
			}
			if len(got) >= len(data) {
				t.Fatalf("read %d bytes, the fault should have cut it short", len(got))
			}
		})
	}
}

func TestSlowTransfers(t *testing.T) {
	s, srv := newStore(t, nil)
	data := storetest.Data(t, 100<<10)
	slow := mantaserver.Fault{PathPrefix: bucket + "/" + name, Kind: mantaserver.Slow, Rate: 250 << 10}
	srv.Inject(slow)
	start := time.Now()
	if err := s.Put(context.Background(), name, bytes.NewReader(data), store.Meta{}); err != nil {
		t.Fatal(err)
	}
	if got := storetest.ReadAll(t, s, name); !bytes.Equal(got, data) {
		t.Fatal("slow get returned different data")
	}
	// 100 KiB up and down at 250 KiB/s: 0.8 s at least.
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Fatalf("slow put and get took %s", d)
	}
}

func TestGetStallHonoursContext(t *testing.T) {
	s, srv := newStore(t, nil)
	if err := s.Put(context.Background(), name, strings.NewReader("x"), store.Meta{}); err != nil {
		t.Fatal(err)
	}
	srv.Inject(mantaserver.Fault{Method: http.MethodGet, PathPrefix: bucket, Kind: mantaserver.Stall})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.Get(ctx, name); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get from a stalled server: %v, want DeadlineExceeded", err)
	}
	if _, err := s.List(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("list from a stalled server: %v, want DeadlineExceeded", err)
	}
}

func TestListServerError(t *testing.T) {
	s, srv := newStore(t, nil)
	srv.Inject(mantaserver.Fault{Method: http.MethodGet, PathPrefix: bucket, Kind: mantaserver.Status})
	_, err := s.List(context.Background())
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAuth) {
		t.Fatalf("list from a failing server: %v, want a plain error", err)
	}
}

// TestKeyNeverShown collects every log line, error and formatted value
// from successful and failing operations and looks for the private key.
func TestKeyNeverShown(t *testing.T) {
	var logs bytes.Buffer
	var texts []string
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})
	s, srv := newStore(t, func(o *Options, _ *mantaserver.Server) {
		o.Logger = log
		texts = append(texts, fmt.Sprintf("%v %+v %#v", *o, *o, *o))
	})
	texts = append(texts, fmt.Sprintf("%v %+v %#v", s, s, s))
	roundTrip(t, s)
	srv.Inject(mantaserver.Fault{Method: http.MethodPut, Kind: mantaserver.Status, Count: 1})
	if err := s.Put(context.Background(), name, strings.NewReader("x"), store.Meta{}); err != nil {
		texts = append(texts, err.Error())
	}
	other := ecKey(t, elliptic.P256())
	bad, err := New(Options{URL: srv.URL, User: srv.Account, KeyID: mustFP(t, other), Signer: other, Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Put(context.Background(), name, strings.NewReader("x"), store.Meta{}); err != nil {
		texts = append(texts, err.Error())
	}
	if _, err := New(Options{URL: srv.URL, User: srv.Account, KeyID: "00:11", Signer: testKey(t), Bucket: bucket}); err != nil {
		texts = append(texts, err.Error())
	}
	if len(texts) != 5 {
		t.Fatalf("want 2 formatted values and 3 errors, got %d texts: %q", len(texts), texts)
	}
	texts = append(texts, logs.String())
	for _, text := range texts {
		assertNoSecret(t, text, testKey(t))
	}
}

// assertNoSecret fails if text holds any line of the key's PEM forms, its
// private exponent or a prime.
func assertNoSecret(t *testing.T, text string, key *rsa.PrivateKey) {
	t.Helper()
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	pems := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	secrets := []string{key.D.String(), key.D.Text(16), key.Primes[0].String(), key.Primes[0].Text(16),
		base64.StdEncoding.EncodeToString(key.D.Bytes())[:40]}
	for _, line := range strings.Split(pems, "\n") {
		if len(line) == 64 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	for _, sec := range secrets {
		if strings.Contains(text, sec) || strings.Contains(text, strings.ReplaceAll(sec, "\n", "#")) {
			t.Fatalf("private key material in %q", text[:min(len(text), 200)])
		}
	}
}

// A Manta that takes requests and never answers fails each call after
// ResponseTimeout, whatever the caller's context allows (before, a stalled
// list or restore waited forever).
func TestResponseTimeout(t *testing.T) {
	s, srv := newStore(t, func(o *Options, _ *mantaserver.Server) { o.ResponseTimeout = time.Second })
	if err := s.Put(context.Background(), name, bytes.NewReader([]byte("REDIS0011")), store.Meta{}); err != nil {
		t.Fatal(err)
	}
	srv.Inject(mantaserver.Fault{PathPrefix: bucket, Kind: mantaserver.Stall})
	calls := map[string]func(ctx context.Context) error{
		"Get":  func(ctx context.Context) error { _, err := s.Get(ctx, name); return err },
		"Stat": func(ctx context.Context) error { _, err := s.Stat(ctx, name); return err },
		"List": func(ctx context.Context) error { _, err := s.List(ctx); return err },
	}
	for what, call := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		start := time.Now()
		err := call(ctx)
		cancel()
		took := time.Since(start)
		if err == nil || took > 10*time.Second {
			t.Errorf("%s on a Manta that never answers: %v after %v, want an error after about 1s", what, err, took)
		}
		t.Logf("%s: %v after %v", what, err, took.Round(time.Millisecond))
	}
}

// TestEndlessListing: a directory listing that does not end (a broken or
// hostile server) fails once MaxReply bytes were read, naming the limit
// and the fix, instead of growing PID 1's memory; a backup's data larger
// than MaxReply still downloads whole.
func TestEndlessListing(t *testing.T) {
	s, srv := newStore(t, nil)
	storetest.EndlessListing(t, s, name, MaxReply, func() {
		srv.Inject(mantaserver.Fault{Method: http.MethodGet, PathPrefix: bucket, Count: 1, Kind: mantaserver.Endless})
	}, "more than 4 MiB", "the Manta at "+srv.URL+" (MANTA_URL)")
}
