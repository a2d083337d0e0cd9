package mantaserver

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	triton "github.com/joyent/triton-go"
	"github.com/joyent/triton-go/authentication"
	"github.com/joyent/triton-go/storage"
)

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testRSAKey(t *testing.T) *rsa.PrivateKey {
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

// client signs raw requests the way http-signature clients do.
type client struct {
	t       *testing.T
	srv     *Server
	key     crypto.Signer
	keyID   string
	alg     string
	hash    crypto.Hash
	headers string // the headers= parameter; "" leaves it out
	date    time.Time
}

func newClient(t *testing.T, srv *Server, key crypto.Signer, alg string, hash crypto.Hash) *client {
	t.Helper()
	fp, err := srv.AddKey(srv.Account, "", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, srv: srv, key: key, keyID: "/" + srv.Account + "/keys/" + fp, alg: alg, hash: hash, headers: "date"}
}

func (c *client) do(method, path string, hdr map[string]string, body []byte) (*http.Response, map[string]string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	date := c.date
	if date.IsZero() {
		date = time.Now()
	}
	req.Header.Set("Date", date.UTC().Format(time.RFC1123))
	h := c.hash.New()
	h.Write([]byte("date: " + req.Header.Get("Date")))
	sig, err := c.key.Sign(rand.Reader, h.Sum(nil), c.hash)
	if err != nil {
		c.t.Fatal(err)
	}
	params := fmt.Sprintf(`keyId="%s",algorithm="%s",signature="%s"`, c.keyID, c.alg, base64.StdEncoding.EncodeToString(sig))
	if c.headers != "" {
		params += `,headers="` + c.headers + `"`
	}
	req.Header.Set("Authorization", "Signature "+params)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e map[string]string
	if resp.StatusCode >= 300 && method != http.MethodHead {
		if err := json.Unmarshal(b, &e); err != nil {
			c.t.Fatalf("%s %s: %d with a non-JSON error body %q", method, path, resp.StatusCode, b)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, e
}

func expect(t *testing.T, resp *http.Response, e map[string]string, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || e["code"] != code {
		t.Fatalf("got %d %v, want %d %s", resp.StatusCode, e, status, code)
	}
}

func TestSignatureAlgorithms(t *testing.T) {
	tests := []struct {
		alg  string
		hash crypto.Hash
		key  func(t *testing.T) crypto.Signer
	}{
		{"rsa-sha1", crypto.SHA1, func(t *testing.T) crypto.Signer { return testRSAKey(t) }},
		{"rsa-sha256", crypto.SHA256, func(t *testing.T) crypto.Signer { return testRSAKey(t) }},
		{"rsa-sha512", crypto.SHA512, func(t *testing.T) crypto.Signer { return testRSAKey(t) }},
		{"ecdsa-sha256", crypto.SHA256, ec(elliptic.P256())},
		{"ecdsa-sha384", crypto.SHA384, ec(elliptic.P384())},
		{"ecdsa-sha512", crypto.SHA512, ec(elliptic.P521())},
	}
	for _, tc := range tests {
		t.Run(tc.alg, func(t *testing.T) {
			srv := New(t, Options{})
			c := newClient(t, srv, tc.key(t), tc.alg, tc.hash)
			resp, e := c.do(http.MethodGet, "/autopilot/stor", nil, nil)
			expect(t, resp, e, 200, "")
			c.headers = "" // manage.sh's curl sends no headers=
			resp, e = c.do(http.MethodGet, "/autopilot/stor", nil, nil)
			expect(t, resp, e, 200, "")
		})
	}
}

func ec(c elliptic.Curve) func(t *testing.T) crypto.Signer {
	return func(t *testing.T) crypto.Signer {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
}

func TestAuthRefusals(t *testing.T) {
	srv := New(t, Options{})
	good := newClient(t, srv, testRSAKey(t), "rsa-sha256", crypto.SHA256)
	tests := []struct {
		name   string
		edit   func(c *client)
		status int
		code   string
	}{
		{"bad signature", func(c *client) { c.hash = crypto.SHA1 }, 403, "InvalidSignature"},
		{"unknown key", func(c *client) { c.keyID = "/autopilot/keys/00:11" }, 403, "KeyDoesNotExist"},
		{"other account", func(c *client) { c.keyID = strings.Replace(c.keyID, "/autopilot/", "/mallory/", 1) }, 403, "KeyDoesNotExist"},
		{"unregistered subuser", func(c *client) { c.keyID = strings.Replace(c.keyID, "/keys/", "/sub/keys/", 1) }, 403, "KeyDoesNotExist"},
		{"cloudapi keyId form", func(c *client) { c.keyID = strings.Replace(c.keyID, "/keys/", "/users/sub/keys/", 1) }, 403, "InvalidKeyId"},
		{"unknown algorithm", func(c *client) { c.alg = "hmac-sha256" }, 401, "InvalidAlgorithm"},
		{"ecdsa alg on an rsa key", func(c *client) { c.alg = "ecdsa-sha256" }, 401, "InvalidAlgorithm"},
		{"clock skew", func(c *client) { c.date = time.Now().Add(-301 * time.Second) }, 400, "InvalidHeader"},
		{"signed header missing", func(c *client) { c.headers = "date x-missing" }, 400, "InvalidHeader"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := *good
			tc.edit(&c)
			resp, e := c.do(http.MethodGet, "/autopilot/stor", nil, nil)
			expect(t, resp, e, tc.status, tc.code)
		})
	}
	resp, err := http.Get(srv.URL + "/autopilot/stor")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no Authorization: %d, want 401", resp.StatusCode)
	}
	resp, e := good.do(http.MethodGet, "/mallory/stor", nil, nil)
	expect(t, resp, e, 403, "AuthorizationFailed")
}

func TestObjectsAndDirectories(t *testing.T) {
	srv := New(t, Options{})
	c := newClient(t, srv, testRSAKey(t), "rsa-sha256", crypto.SHA256)
	dir := map[string]string{"Content-Type": "application/json; type=directory"}
	steps := []struct {
		method, path string
		hdr          map[string]string
		body         string
		status       int
		code         string
	}{
		{"PUT", "/autopilot/stor/a/b", dir, "", 404, "DirectoryDoesNotExist"},
		{"PUT", "/autopilot/stor", dir, "", 204, ""},
		{"PUT", "/autopilot/stor/a", dir, "", 204, ""},
		{"PUT", "/autopilot/stor/a", dir, "", 204, ""},
		{"PUT", "/autopilot/stor/a/o", nil, "hello", 204, ""},
		{"PUT", "/autopilot/stor/a/o/x", nil, "", 400, "ParentNotDirectory"},
		{"PUT", "/autopilot/stor/a", nil, "x", 400, "OperationNotAllowedOnDirectory"},
		{"PUT", "/autopilot/stor", nil, "x", 400, "OperationNotAllowedOnRootDirectory"},
		{"PUT", "/autopilot/stor/a/m", map[string]string{"Content-MD5": md5b64("other")}, "hello", 400, "ContentMD5Mismatch"},
		{"PUT", "/autopilot/stor/a/m", map[string]string{"Content-MD5": md5b64("hello")}, "hello", 204, ""},
		{"PUT", "/autopilot/stor/a/d", map[string]string{"Durability-Level": "9"}, "x", 400, "InvalidDurabilityLevel"},
		{"PUT", "/autopilot/stor/a/big", map[string]string{"Max-Content-Length": "3"}, "hello", 413, "MaxContentLengthExceeded"},
		{"PUT", "/autopilot/stor/a/l", map[string]string{"Content-Type": "application/json; type=link", "Location": "/autopilot/stor/a/o"}, "", 403, "SnaplinksDisabledError"},
		{"PUT", "/autopilot/stor/a/o", map[string]string{"If-Match": "nope"}, "x", 412, "PreconditionFailed"},
		{"GET", "/autopilot/stor/a/nope", nil, "", 404, "ResourceNotFound"},
		{"DELETE", "/autopilot/stor/a", nil, "", 400, "DirectoryNotEmpty"},
		{"DELETE", "/autopilot/stor", nil, "", 400, "OperationNotAllowedOnRootDirectory"},
		{"GET", "/autopilot/stor/a?limit=1025", nil, "", 400, "InvalidArgumentError"},
	}
	for _, s := range steps {
		resp, e := c.do(s.method, s.path, s.hdr, []byte(s.body))
		if resp.StatusCode != s.status || e["code"] != s.code {
			t.Fatalf("%s %s: %d %v, want %d %s", s.method, s.path, resp.StatusCode, e, s.status, s.code)
		}
	}
	resp, _ := c.do("GET", "/autopilot/stor/a/o", nil, nil)
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "hello" || resp.Header.Get("Content-MD5") != md5b64("hello") || resp.Header.Get("Etag") == "" ||
		resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Length") != "5" {
		t.Fatalf("GET object: %q %v", b, resp.Header)
	}
}

func md5b64(s string) string {
	sum := md5.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestListingLimitAndMarker(t *testing.T) {
	srv := New(t, Options{})
	c := newClient(t, srv, testRSAKey(t), "rsa-sha256", crypto.SHA256)
	c.do("PUT", "/autopilot/stor/d", map[string]string{"Content-Type": "application/json; type=directory"}, nil)
	for _, n := range []string{"c", "a", "e", "b", "d"} {
		c.do("PUT", "/autopilot/stor/d/"+n, nil, []byte(n))
	}
	c.do("PUT", "/autopilot/stor/d/sub", map[string]string{"Content-Type": "application/json; type=directory"}, nil)
	resp, _ := c.do("GET", "/autopilot/stor/d?limit=3&marker=b", nil, nil)
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(readAll(t, resp.Body)), "\n") {
		var e struct{ Name, Type string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		names = append(names, e.Name+":"+e.Type)
	}
	if got := strings.Join(names, ","); got != "b:object,c:object,d:object" {
		t.Fatalf("limit=3 marker=b: %s", got)
	}
	if resp.Header.Get("Result-Set-Size") != "6" || resp.Header.Get("Content-Type") != "application/x-json-stream; type=directory" {
		t.Fatalf("headers %v", resp.Header)
	}
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTritonGoOwnSigner: triton-go's PrivateKeySigner (rsa-sha1, PKCS#1)
// and its ForceInsert directory chain work against the server.
func TestTritonGoOwnSigner(t *testing.T) {
	srv := New(t, Options{})
	key := testRSAKey(t)
	fp, err := srv.AddKey(srv.Account, "", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := authentication.NewPrivateKeySigner(authentication.PrivateKeySignerInput{
		KeyID: fp, AccountName: srv.Account,
		PrivateKeyMaterial: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := storage.NewClient(&triton.ClientConfig{MantaURL: srv.URL, AccountName: srv.Account, Signers: []authentication.Signer{sig}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = sc.Objects().Put(ctx, &storage.PutObjectInput{ObjectPath: "/stor/x/y/z.txt", ObjectReader: io.MultiReader(strings.NewReader("chunked")), ForceInsert: true})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sc.Dir().List(ctx, &storage.ListDirectoryInput{DirectoryName: "/stor/x/y"})
	if err != nil || len(out.Entries) != 1 || out.Entries[0].Name != "z.txt" || out.Entries[0].Size != 7 || out.ResultSetSize != 1 {
		t.Fatalf("list: %+v, %v", out, err)
	}
	if _, err := sc.Objects().Get(ctx, &storage.GetObjectInput{ObjectPath: "/stor/x/nope"}); err == nil || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Fatalf("get of a missing object: %v, want ResourceNotFound", err)
	}
}
