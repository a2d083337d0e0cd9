package manta

import (
	"bytes"
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"github.com/joyent/triton-go/storage"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/storetest"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
	"golang.org/x/crypto/ssh"
)

const name = "dump-20261121193000.rdb.gz"

// roundTrip puts and reads back one backup.
func roundTrip(t *testing.T, s *Store) {
	t.Helper()
	data := storetest.Data(t, 10<<10)
	if err := s.Put(context.Background(), name, bytes.NewReader(data), store.Meta{Compression: "gzip"}); err != nil {
		t.Fatalf("put: %v", err)
	}
	if got := storetest.ReadAll(t, s, name); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(data))
	}
}

func TestNestedBucketCreated(t *testing.T) {
	s, srv := newStore(t, nil)
	roundTrip(t, s)
	for _, d := range []string{"/autopilot/stor/backups", bucket} {
		if !srv.Exists(d) {
			t.Errorf("directory %s was not created", d)
		}
	}
	want := []string{bucket + "/" + name, bucket + "/" + name + store.SidecarSuffix}
	if got := srv.Objects(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("objects = %v, want %v", got, want)
	}
}

func TestListPagination(t *testing.T) {
	s, _ := newStore(t, func(o *Options, _ *mantaserver.Server) { o.PageSize = 3 })
	var want []string
	for i := range 8 {
		n := "dump-2026112119300" + string(rune('0'+i)) + ".rdb"
		if err := s.Put(context.Background(), n, strings.NewReader(n), store.Meta{}); err != nil {
			t.Fatal(err)
		}
		want = append(want, n)
	}
	infos, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range infos {
		if !i.Good() {
			t.Errorf("%s: not good: %+v", i.Name, i)
		}
		got = append(got, i.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("list over 16 entries in pages of 3 = %v, want %v", got, want)
	}
}

func TestAuthFailures(t *testing.T) {
	other := ecKey(t, elliptic.P256())
	tests := []struct {
		name     string
		edit     func(*Options, *mantaserver.Server)
		wantCode string
	}{
		{"unknown key", func(o *Options, _ *mantaserver.Server) {
			o.Signer = other
			o.KeyID = mustFP(t, other)
		}, "KeyDoesNotExist"},
		{"wrong user", func(o *Options, _ *mantaserver.Server) {
			o.User, o.Bucket = "someoneelse", "/someoneelse/stor/backups"
		}, "KeyDoesNotExist"},
		{"unregistered subuser", func(o *Options, _ *mantaserver.Server) { o.Subuser = "nobody" }, "KeyDoesNotExist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o Options
			s, _ := newStore(t, func(opts *Options, srv *mantaserver.Server) {
				tc.edit(opts, srv)
				o = *opts
			})
			err := s.Put(context.Background(), name, strings.NewReader("x"), store.Meta{})
			var ae *AuthError
			if !errors.Is(err, store.ErrAuth) || !errors.As(err, &ae) || ae.Code != tc.wantCode || ae.Status != 403 {
				t.Fatalf("put: %v, want an AuthError 403 %s", err, tc.wantCode)
			}
			want := "Manta refused the signature for key " + o.KeyID + " user " + s.user +
				": check MANTA_KEY_ID and MANTA_PRIVATE_KEY"
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not say %q", err, want)
			}
			if _, err := s.List(context.Background()); !errors.Is(err, store.ErrAuth) {
				t.Fatalf("list: %v, want ErrAuth", err)
			}
		})
	}
}

func mustFP(t *testing.T, k crypto.Signer) string {
	t.Helper()
	fp, err := mantaserver.MD5Fingerprint(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func TestSubuserAndRole(t *testing.T) {
	s, srv := newStore(t, func(o *Options, srv *mantaserver.Server) {
		o.Subuser, o.Role = "backup", "redis-backups"
		register(t, srv, "backup", testKey(t))
	})
	roundTrip(t, s)
	for _, r := range srv.Requests() {
		if !strings.HasPrefix(r.KeyID, "/autopilot/backup/keys/") || r.Role != "redis-backups" || r.Status != 0 {
			t.Fatalf("request %+v: want keyId /autopilot/backup/keys/..., Role redis-backups, accepted", r)
		}
	}
}

func TestKeyTypes(t *testing.T) {
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		t.Run(c.Params().Name, func(t *testing.T) {
			k := ecKey(t, c)
			s, _ := newStore(t, func(o *Options, srv *mantaserver.Server) {
				o.Signer, o.KeyID = k, register(t, srv, "", k)
			})
			roundTrip(t, s)
		})
	}
}

func TestKeyIDForms(t *testing.T) {
	key := testKey(t)
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	md5 := mustFP(t, key)
	for _, id := range []string{md5, "MD5:" + md5, strings.ReplaceAll(md5, ":", ""), strings.ToUpper(md5), ssh.FingerprintSHA256(pub)} {
		t.Run(id, func(t *testing.T) {
			s, _ := newStore(t, func(o *Options, _ *mantaserver.Server) { o.KeyID = id })
			roundTrip(t, s) // the server only knows the MD5 form
		})
	}
	for _, id := range []string{"00:11:22", "SHA256:abc", "MD5:"} {
		o := Options{URL: "http://127.0.0.1:1", User: "a", KeyID: id, Signer: key, Bucket: "/a/stor/b"}
		if _, err := New(o); !errors.Is(err, ErrKeyMismatch) {
			t.Errorf("KeyID %q: %v, want ErrKeyMismatch", id, err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	key := testKey(t)
	ok := Options{URL: "https://manta.example", User: "a", KeyID: mustFP(t, key), Signer: key, Bucket: "/a/stor/b"}
	tests := []struct {
		name string
		edit func(*Options)
		want error
	}{
		{"no URL", func(o *Options) { o.URL = "" }, ErrMissingOption},
		{"no user", func(o *Options) { o.User = "" }, ErrMissingOption},
		{"no signer", func(o *Options) { o.Signer = nil }, ErrMissingOption},
		{"bucket of another user", func(o *Options) { o.Bucket = "/b/stor/x" }, ErrBadBucket},
		{"bucket is a root", func(o *Options) { o.Bucket = "/a/stor" }, ErrBadBucket},
		{"relative bucket", func(o *Options) { o.Bucket = "stor/x" }, ErrBadBucket},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			if _, err := New(o); !errors.Is(err, tc.want) {
				t.Fatalf("New: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Fatalf("New with good options: %v", err)
	}
}

func TestParsePrivateKey(t *testing.T) {
	key := testKey(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ossh, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	ec := ecKey(t, elliptic.P256())
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string][]byte{
		"pkcs1":        pkcs1,
		"pkcs1 hashes": []byte(strings.ReplaceAll(string(pkcs1), "\n", "#")),
		"pkcs8":        pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"openssh":      pem.EncodeToMemory(ossh),
		"sec1 ec":      pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
	}
	for n, b := range forms {
		if _, err := ParsePrivateKey(b); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	broken := pkcs1[:len(pkcs1)/2]
	_, err = ParsePrivateKey(broken)
	if err == nil {
		t.Fatal("half a key parsed")
	}
	assertNoSecret(t, err.Error(), key)
}

// TestListBeyondOnePage: more entries than Manta's largest page (1024),
// listed with the default page size; legacy backups without sidecars.
func TestListBeyondOnePage(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1030 objects")
	}
	k := ecKey(t, elliptic.P256()) // signs far faster than RSA
	s, _ := newStore(t, func(o *Options, srv *mantaserver.Server) { o.Signer, o.KeyID = k, register(t, srv, "", k) })
	if err := s.ensureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 1030
	for i := range n {
		n, err := store.Name(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second), "")
		if err != nil {
			t.Fatal(err)
		}
		p := s.path(n)
		err = s.objects.Put(context.Background(), &storage.PutObjectInput{ObjectPath: p, ObjectReader: strings.NewReader("x")})
		if err != nil {
			t.Fatal(err)
		}
	}
	infos, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != n || infos[0].Name != "dump-20261120000000.rdb" || infos[n-1].Name != "dump-20261120001709.rdb" {
		t.Fatalf("listed %d entries, want %d in order", len(infos), n)
	}
}
