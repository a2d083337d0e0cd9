package manta

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/joyent/triton-go/authentication"
	"golang.org/x/crypto/ssh"
)

// Errors from key handling. Their messages never contain key material.
var (
	ErrKeyType     = errors.New("unsupported private key type (Manta accepts RSA and ECDSA)")
	ErrKeyMismatch = errors.New("MANTA_KEY_ID does not match the private key")
)

// ParsePrivateKey parses MANTA_PRIVATE_KEY: PEM PKCS#1, PKCS#8, SEC 1 or
// OpenSSH, unencrypted, with newlines possibly written as '#' (as the shell
// version's setup.sh encodes them).
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	s := string(pemBytes)
	if !strings.Contains(s, "\n") {
		s = strings.ReplaceAll(s, "#", "\n")
	}
	k, err := ssh.ParseRawPrivateKey([]byte(s))
	if err != nil {
		// x/crypto/ssh's errors name the problem, not the key's contents.
		return nil, fmt.Errorf("parse MANTA_PRIVATE_KEY: %w", err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("parse MANTA_PRIVATE_KEY: %T: %w", k, ErrKeyType)
}

// signer is triton-go's authentication.Signer on an in-memory key: it signs
// rsa-sha256 (ecdsa-sha256/384/512 by curve) where triton-go's own
// PrivateKeySigner only does PKCS#1 RSA with rsa-sha1.
type signer struct {
	account, subuser string
	fingerprint      string // MD5, colon hex
	algorithm        string
	hash             crypto.Hash
	key              crypto.Signer
}

var _ authentication.Signer = (*signer)(nil)

func newSigner(account, subuser, keyID string, key crypto.Signer) (*signer, error) {
	s := &signer{account: account, subuser: subuser, key: key}
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		s.algorithm, s.hash = "rsa-sha256", crypto.SHA256
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			s.algorithm, s.hash = "ecdsa-sha256", crypto.SHA256
		case elliptic.P384():
			s.algorithm, s.hash = "ecdsa-sha384", crypto.SHA384
		case elliptic.P521():
			s.algorithm, s.hash = "ecdsa-sha512", crypto.SHA512
		default:
			return nil, ErrKeyType
		}
	default:
		return nil, fmt.Errorf("%T: %w", k, ErrKeyType)
	}
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	s.fingerprint = md5Fingerprint(pub)
	if !matchKeyID(keyID, pub, s.fingerprint) {
		return nil, fmt.Errorf("%w: MANTA_KEY_ID is %q, the key's fingerprints are %s and %s",
			ErrKeyMismatch, keyID, s.fingerprint, ssh.FingerprintSHA256(pub))
	}
	return s, nil
}

func md5Fingerprint(pub ssh.PublicKey) string {
	sum := md5.Sum(pub.Marshal())
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(hexes, ":")
}

// matchKeyID accepts "aa:bb:..", "aabb..", "MD5:aa:bb:.." and "SHA256:...".
func matchKeyID(id string, pub ssh.PublicKey, md5fp string) bool {
	if strings.HasPrefix(strings.ToUpper(id), "SHA256:") {
		return id[len("SHA256:"):] == strings.TrimPrefix(ssh.FingerprintSHA256(pub), "SHA256:")
	}
	if strings.HasPrefix(strings.ToUpper(id), "MD5:") {
		id = id[len("MD5:"):]
	}
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, ":", "")) }
	return id != "" && norm(id) == norm(md5fp)
}

// DefaultAlgorithm implements authentication.Signer.
func (s *signer) DefaultAlgorithm() string { return s.algorithm }

// KeyFingerprint implements authentication.Signer: the MD5 form Manta
// looks keys up by.
func (s *signer) KeyFingerprint() string { return s.fingerprint }

// keyID is /:login/keys/:fp, or /:login/:subuser/keys/:fp for Manta
// (/:login/users/:subuser/keys/:fp for CloudAPI).
func (s *signer) keyID(isManta bool) string {
	switch {
	case s.subuser == "":
		return path.Join("/", s.account, "keys", s.fingerprint)
	case isManta:
		return path.Join("/", s.account, s.subuser, "keys", s.fingerprint)
	}
	return path.Join("/", s.account, "users", s.subuser, "keys", s.fingerprint)
}

// Sign implements authentication.Signer: the Authorization header value
// for a request whose Date header is dateHeader.
func (s *signer) Sign(dateHeader string, isManta bool) (string, error) {
	sig, alg, err := s.SignRaw("date: " + dateHeader)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`Signature keyId="%s",algorithm="%s",headers="date",signature="%s"`,
		s.keyID(isManta), alg, sig), nil
}

// SignRaw implements authentication.Signer: base64 signature, algorithm.
func (s *signer) SignRaw(toSign string) (string, string, error) {
	h := s.hash.New()
	h.Write([]byte(toSign))
	sig, err := s.key.Sign(rand.Reader, h.Sum(nil), s.hash)
	if err != nil {
		return "", "", fmt.Errorf("sign with key %s: %w", s.fingerprint, err)
	}
	return base64.StdEncoding.EncodeToString(sig), s.algorithm, nil
}

// String keeps the key out of any formatted output.
func (s *signer) String() string { return "manta signer " + s.keyID(true) }

// GoString keeps the key out of %#v.
func (s *signer) GoString() string { return s.String() }
