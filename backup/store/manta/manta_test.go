package manta

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"sync"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/backup/store/storetest"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
	"github.com/joyent/triton-go/storage"
)

const bucket = "/autopilot/stor/backups/redis"

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testKey is one RSA key shared by the tests (generation is slow).
func testKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// register adds key's public half for user[/subuser] and returns its MD5.
func register(t testing.TB, srv *mantaserver.Server, subuser string, key crypto.Signer) string {
	t.Helper()
	fp, err := srv.AddKey(srv.Account, subuser, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// newStore starts a test server with the shared key registered and a
// store on it; edit adjusts the options first.
func newStore(t testing.TB, edit func(*Options, *mantaserver.Server)) (*Store, *mantaserver.Server) {
	t.Helper()
	srv := mantaserver.New(t, mantaserver.Options{})
	key := testKey(t)
	o := Options{URL: srv.URL, User: srv.Account, KeyID: register(t, srv, "", key), Signer: key, Bucket: bucket}
	if edit != nil {
		edit(&o, srv)
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, srv
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Fixture {
		s, _ := newStore(t, nil)
		return storetest.Fixture{Store: s, PutRaw: func(t *testing.T, name string, data []byte) {
			t.Helper()
			err := s.objects.Put(context.Background(), &storage.PutObjectInput{
				ObjectPath: s.path(name), ObjectReader: strings.NewReader(string(data)), ForceInsert: true,
			})
			if err != nil {
				t.Fatalf("raw put %s: %v", name, err)
			}
		}}
	})
}
