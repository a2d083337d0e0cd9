package mantaserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rsa"
	_ "crypto/sha1" // registers the hashes the algorithms name
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// MaxSkew is the largest difference between a request's Date and the
// server's clock that is accepted.
const MaxSkew = 300 * time.Second

type keyRef struct{ login, subuser, fp string }

// AddKey lets login (or login's subuser, when subuser is not empty) sign
// with the private half of pub (*rsa.PublicKey or *ecdsa.PublicKey). It
// returns the key's MD5 fingerprint in colon hex, the form keyIds use.
func (s *Server) AddKey(login, subuser string, pub crypto.PublicKey) (string, error) {
	fp, err := MD5Fingerprint(pub)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[keyRef{login, subuser, fp}] = pub
	return fp, nil
}

// MD5Fingerprint is the MD5 of the SSH wire form of pub, colon hex.
func MD5Fingerprint(pub crypto.PublicKey) (string, error) {
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	sum := md5.Sum(sp.Marshal())
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(hexes, ":"), nil
}

var paramRE = regexp.MustCompile(`([A-Za-z]+)="([^"]*)"`)

func authParams(h string) map[string]string {
	m := map[string]string{}
	for _, kv := range paramRE.FindAllStringSubmatch(h, -1) {
		m[kv[1]] = kv[2]
	}
	return m
}

var hashes = map[string]crypto.Hash{
	"rsa-sha1": crypto.SHA1, "rsa-sha256": crypto.SHA256, "rsa-sha384": crypto.SHA384,
	"rsa-sha512": crypto.SHA512, "ecdsa-sha256": crypto.SHA256, "ecdsa-sha384": crypto.SHA384,
	"ecdsa-sha512": crypto.SHA512,
}

// authenticate checks the Signature and returns the login, or the status,
// restCode and message to refuse the request with.
func (s *Server) authenticate(r *http.Request) (string, int, string, string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", http.StatusUnauthorized, "AuthorizationRequired", "Authorization header required"
	}
	scheme, _, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Signature") {
		return "", http.StatusForbidden, "AuthorizationSchemeNotAllowed", scheme + " is not a supported scheme"
	}
	p := authParams(h)
	if p["keyId"] == "" || p["algorithm"] == "" || p["signature"] == "" {
		return "", http.StatusBadRequest, "InvalidHeader", "Authorization header is missing keyId, algorithm or signature"
	}
	if msg := s.checkDate(r); msg != "" {
		return "", http.StatusBadRequest, "InvalidHeader", msg
	}
	ref, ok := parseKeyID(p["keyId"])
	if !ok {
		return "", http.StatusForbidden, "InvalidKeyId", p["keyId"] + " is not a valid keyId"
	}
	alg := strings.ToLower(p["algorithm"])
	hash, ok := hashes[alg]
	if !ok {
		return "", http.StatusUnauthorized, "InvalidAlgorithm", p["algorithm"] + " is not a supported algorithm"
	}
	s.mu.Lock()
	pub, ok := s.keys[ref]
	s.mu.Unlock()
	if !ok {
		return "", http.StatusForbidden, "KeyDoesNotExist", p["keyId"] + " does not exist"
	}
	signing, ok := signingString(r, p["headers"])
	if !ok {
		return "", http.StatusBadRequest, "InvalidHeader", "a signed header is missing"
	}
	sig, err := base64.StdEncoding.DecodeString(p["signature"])
	if err != nil {
		return "", http.StatusBadRequest, "InvalidHeader", "signature is not base64"
	}
	if status, code := verify(pub, alg, hash, signing, sig); status != 0 {
		return "", status, code, "the signature does not match " + p["keyId"]
	}
	return ref.login, 0, "", ""
}

// checkDate parses Date (or x-date) as triton-go writes it ("... UTC").
func (s *Server) checkDate(r *http.Request) string {
	v := r.Header.Get("Date")
	if x := r.Header.Get("X-Date"); x != "" {
		v = x
	}
	if v == "" {
		return "Date header required"
	}
	t, err := time.Parse(time.RFC1123, v)
	if err != nil {
		if t, err = http.ParseTime(v); err != nil {
			return "Date header is not an HTTP date"
		}
	}
	if d := s.now().Sub(t); d > MaxSkew || d < -MaxSkew {
		return fmt.Sprintf("clock skew of %s is too large", d.Round(time.Second))
	}
	return ""
}

// parseKeyID accepts /:login/keys/:fp and /:login/:subuser/keys/:fp.
func parseKeyID(id string) (keyRef, bool) {
	parts := strings.Split(id, "/")
	switch {
	case len(parts) == 4 && parts[0] == "" && parts[1] != "" && parts[2] == "keys" && parts[3] != "":
		return keyRef{parts[1], "", strings.ToLower(parts[3])}, true
	case len(parts) == 5 && parts[0] == "" && parts[1] != "" && parts[2] != "" && parts[3] == "keys" && parts[4] != "":
		return keyRef{parts[1], parts[2], strings.ToLower(parts[4])}, true
	}
	return keyRef{}, false
}

// signingString joins the signed headers as http-signature does; without a
// headers parameter it signs the date (x-date if present).
func signingString(r *http.Request, headers string) (string, bool) {
	if headers == "" {
		headers = "date"
		if r.Header.Get("X-Date") != "" {
			headers = "x-date"
		}
	}
	var lines []string
	for _, h := range strings.Fields(strings.ToLower(headers)) {
		switch h {
		case "request-line":
			lines = append(lines, r.Method+" "+r.URL.RequestURI()+" HTTP/1.1")
		case "(request-target)":
			lines = append(lines, strings.ToLower(r.Method)+" "+r.URL.RequestURI())
		default:
			v := r.Header.Get(h)
			if v == "" && h != "host" {
				return "", false
			}
			if h == "host" {
				v = r.Host
			}
			lines = append(lines, h+": "+v)
		}
	}
	return strings.Join(lines, "\n"), true
}

func verify(pub any, alg string, hash crypto.Hash, signing string, sig []byte) (int, string) {
	digest := digest(hash, signing)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if !strings.HasPrefix(alg, "rsa-") {
			return http.StatusUnauthorized, "InvalidAlgorithm"
		}
		if rsa.VerifyPKCS1v15(k, hash, digest, sig) != nil {
			return http.StatusForbidden, "InvalidSignature"
		}
	case *ecdsa.PublicKey:
		if !strings.HasPrefix(alg, "ecdsa-") {
			return http.StatusUnauthorized, "InvalidAlgorithm"
		}
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return http.StatusForbidden, "InvalidSignature"
		}
	default:
		return http.StatusUnauthorized, "InvalidAlgorithm"
	}
	return 0, ""
}

func digest(hash crypto.Hash, s string) []byte {
	h := hash.New()
	h.Write([]byte(s))
	return h.Sum(nil)
}
