// Package mantaserver is a TEST SERVER for the Joyent Manta object store: it
// speaks the subset of the Manta HTTP API that triton-go v1.8.5's storage
// client uses (shared/reference/manta-api.md), verifies the HTTP Signature
// of every request against public keys added with AddKey, and injects
// faults on demand. It is not Manta: no jobs, no multipart uploads, no
// snaplinks (answered as mantav2 does), no RBAC (Role headers are recorded
// and ignored). Object data lives in a temporary directory, so tests can
// push large objects.
package mantaserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configures a test server. The zero value is usable.
type Options struct {
	// Account is the login tests use; default "autopilot".
	Account string
	// Dir holds object data; default t.TempDir().
	Dir string
	// Now is the server's clock for the Date check; default time.Now.
	Now func() time.Time
}

// Server is a running test server, closed by t.Cleanup.
type Server struct {
	URL     string // e.g. http://127.0.0.1:41234
	Account string

	dir    string
	now    func() time.Time
	srv    *httptest.Server
	closed chan struct{}

	mu       sync.Mutex
	keys     map[keyRef]any // public keys
	nodes    map[string]*node
	faults   []*Fault
	faulted  time.Time // when a request last took a fault
	requests []Request
	seq      int
}

// Request is what the server saw of one authenticated-or-not request.
type Request struct {
	Method, Path, KeyID, Role string
	Status                    int // status of an auth refusal, 0 otherwise
}

// New starts a server.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Account == "" {
		o.Account = "autopilot"
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{
		Account: o.Account, dir: o.Dir, now: o.Now, closed: make(chan struct{}),
		keys: map[keyRef]any{}, nodes: map[string]*node{},
	}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	t.Cleanup(func() {
		close(s.closed) // release stalled handlers first: Close waits for them
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

// Requests returns what the server has seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := path.Clean("/" + r.URL.Path)
	login, status, code, msg := s.authenticate(r)
	s.record(r, p, status)
	if status != 0 {
		writeError(w, r, status, code, msg)
		return
	}
	if owner := strings.SplitN(p[1:], "/", 2)[0]; owner != login {
		writeError(w, r, http.StatusForbidden, "AuthorizationFailed", login+" is not allowed to access "+p)
		return
	}
	if !inNamespace(p) {
		writeError(w, r, http.StatusNotFound, "ResourceNotFound", p+" was not found")
		return
	}
	f := s.takeFault(r.Method, p)
	if f != nil && s.preFault(w, r, f) {
		return
	}
	switch r.Method {
	case http.MethodPut:
		s.put(w, r, p, f)
	case http.MethodGet, http.MethodHead:
		s.get(w, r, p, f)
	case http.MethodDelete:
		s.delete(w, r, p)
	default:
		writeError(w, r, http.StatusMethodNotAllowed, "BadMethod", r.Method+" is not allowed")
	}
}

func (s *Server) record(r *http.Request, p string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: p, Role: r.Header.Get("Role"), Status: status,
		KeyID: authParams(r.Header.Get("Authorization"))["keyId"],
	})
}

// inNamespace: /:login or below one of the top-level directories.
func inNamespace(p string) bool {
	parts := strings.Split(p[1:], "/")
	if len(parts) == 1 {
		return true
	}
	switch parts[1] {
	case "stor", "public", "uploads", "reports":
		return true
	}
	return false
}

// writeError answers with muskie's JSON error body (none for HEAD).
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}
