package mantaserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// NewKey makes an ECDSA P-256 key and registers it for the account; it
// returns the key, its fingerprint (MANTA_KEY_ID) and its PKCS#8 PEM
// (MANTA_PRIVATE_KEY).
func (s *Server) NewKey(t testing.TB) (key *ecdsa.PrivateKey, fingerprint, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fingerprint, err = s.AddKey(s.Account, "", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, fingerprint, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}
