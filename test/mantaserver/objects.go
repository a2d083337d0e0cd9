package mantaserver

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	dirType        = "application/json; type=directory"
	maxContentLen  = 5120 << 20
	listLimitDef   = 256
	listLimitMax   = 1024
	mtimeFormat    = "2006-01-02T15:04:05.000Z"
	errParentIsObj = "ParentNotDirectory"
)

// node is a directory or a committed object.
type node struct {
	dir         bool
	file        string // object data
	size        int64
	md5         []byte
	etag        string
	mtime       time.Time
	contentType string
	durability  int
	meta        http.Header // m-* headers
}

// isRoot: /:login and /:login/{stor,public,uploads,reports} always exist.
func isRoot(p string) bool { return strings.Count(p, "/") <= 2 }

// lookup returns the node at p; roots are directories. Callers hold s.mu.
func (s *Server) lookup(p string) *node {
	if isRoot(p) {
		return &node{dir: true, mtime: time.Unix(0, 0)}
	}
	return s.nodes[p]
}

// parentError says why p cannot be created, or "" if its parent is a
// directory. Callers hold s.mu.
func (s *Server) parentError(p string) (int, string) {
	parent := s.lookup(path.Dir(p))
	switch {
	case parent == nil:
		return http.StatusNotFound, "DirectoryDoesNotExist"
	case !parent.dir:
		return http.StatusBadRequest, errParentIsObj
	}
	return 0, ""
}

// Exists reports whether an object or directory is visible at p (an
// absolute Manta path such as /autopilot/stor/backups/x).
func (s *Server) Exists(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookup(path.Clean(p)) != nil
}

// Objects returns the paths of all committed objects, sorted.
func (s *Server) Objects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for p, n := range s.nodes {
		if !n.dir {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Object returns the data of the committed object at p (an absolute
// Manta path), for tests that look at what a client stored.
func (s *Server) Object(p string) ([]byte, bool) {
	s.mu.Lock()
	n := s.nodes[path.Clean(p)]
	s.mu.Unlock()
	if n == nil || n.dir {
		return nil, false
	}
	b, err := os.ReadFile(n.file)
	return b, err == nil
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, p string, f *Fault) {
	switch ct := r.Header.Get("Content-Type"); {
	case ct == dirType:
		s.putDir(w, r, p)
	case strings.HasSuffix(ct, "type=link"):
		writeError(w, r, http.StatusForbidden, "SnaplinksDisabledError", "snaplinks are disabled (mantav2)")
	default:
		s.putObject(w, r, p, f)
	}
}

func (s *Server) putDir(w http.ResponseWriter, r *http.Request, p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if isRoot(p) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if status, code := s.parentError(p); status != 0 {
		writeError(w, r, status, code, path.Dir(p)+" is not a directory")
		return
	}
	if n := s.nodes[p]; n != nil && !n.dir {
		writeError(w, r, http.StatusBadRequest, "ParentNotDirectory", p+" is an object")
		return
	}
	if s.nodes[p] == nil {
		s.nodes[p] = &node{dir: true, mtime: time.Now()}
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkPut validates an object PUT before its body is read.
func (s *Server) checkPut(r *http.Request, p string) (status int, code, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkPutLocked(r, p)
}

func (s *Server) checkPutLocked(r *http.Request, p string) (status int, code, msg string) {
	if isRoot(p) {
		return http.StatusBadRequest, "OperationNotAllowedOnRootDirectory", p + " is a root directory"
	}
	if status, code := s.parentError(p); status != 0 {
		return status, code, path.Dir(p) + " is not a directory"
	}
	old := s.nodes[p]
	if old != nil && old.dir {
		return http.StatusBadRequest, "OperationNotAllowedOnDirectory", p + " is a directory"
	}
	if m := r.Header.Get("If-Match"); m != "" && (old == nil || (m != "*" && m != old.etag)) {
		return http.StatusPreconditionFailed, "PreconditionFailed", "If-Match failed"
	}
	if m := r.Header.Get("If-None-Match"); m != "" && old != nil && (m == "*" || m == old.etag) {
		return http.StatusPreconditionFailed, "PreconditionFailed", "If-None-Match failed"
	}
	return 0, "", ""
}

func durability(r *http.Request) (int, bool) {
	v := r.Header.Get("Durability-Level")
	if v == "" {
		v = r.Header.Get("X-Durability-Level")
	}
	if v == "" {
		return 2, true
	}
	d, err := strconv.Atoi(v)
	return d, err == nil && d >= 1 && d <= 6
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request, p string, f *Fault) {
	if status, code, msg := s.checkPut(r, p); status != 0 {
		writeError(w, r, status, code, msg)
		return
	}
	dur, ok := durability(r)
	if !ok {
		writeError(w, r, http.StatusBadRequest, "InvalidDurabilityLevel", "durability-level must be 1 to 6")
		return
	}
	limit := int64(maxContentLen)
	if v := r.Header.Get("Max-Content-Length"); v != "" {
		if l, err := strconv.ParseInt(v, 10, 64); err == nil && l >= 0 {
			limit = l
		}
	}
	n, ok := s.receive(w, r, p, f, limit)
	if !ok {
		return
	}
	n.durability = dur
	if status, code, msg := s.commit(r, p, n); status != 0 {
		_ = os.Remove(n.file)
		writeError(w, r, status, code, msg)
		return
	}
	w.Header().Set("Etag", n.etag)
	w.Header().Set("Last-Modified", n.mtime.Format(http.TimeFormat))
	w.Header().Set("Computed-MD5", base64.StdEncoding.EncodeToString(n.md5))
	w.WriteHeader(http.StatusNoContent)
}

// receive streams the body into a temp file. Nothing is visible until
// commit, so a body that ends early leaves no object.
func (s *Server) receive(w http.ResponseWriter, r *http.Request, p string, f *Fault, limit int64) (*node, bool) {
	tmp, err := os.CreateTemp(s.dir, "obj-*")
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "InternalError", err.Error())
		return nil, false
	}
	h := md5.New()
	body := s.faultyBody(w, r, f)
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(body, limit+1))
	cerr := tmp.Close()
	fail := func(status int, code, msg string) (*node, bool) {
		_ = os.Remove(tmp.Name())
		writeError(w, r, status, code, msg)
		return nil, false
	}
	switch {
	case errors.Is(err, errHijacked):
		_ = os.Remove(tmp.Name())
		return nil, false
	case err != nil:
		return fail(http.StatusBadRequest, "UploadAbandoned", "request body ended early: "+err.Error())
	case cerr != nil:
		return fail(http.StatusInternalServerError, "InternalError", cerr.Error())
	case n > limit:
		return fail(http.StatusRequestEntityTooLarge, "MaxContentLengthExceeded", fmt.Sprintf("more than %d bytes", limit))
	}
	sum := h.Sum(nil)
	if want := r.Header.Get("Content-MD5"); want != "" && want != base64.StdEncoding.EncodeToString(sum) {
		return fail(http.StatusBadRequest, "ContentMD5Mismatch", "Content-MD5 does not match the body")
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	meta := http.Header{}
	for k, v := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "m-") {
			meta[k] = v
		}
	}
	return &node{file: tmp.Name(), size: n, md5: sum, etag: uuid(), mtime: time.Now().UTC(), contentType: ct, meta: meta}, true
}

// commit makes the object visible, replacing an older one.
func (s *Server) commit(r *http.Request, p string, n *node) (int, string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status, code, msg := s.checkPutLocked(r, p); status != 0 {
		return status, code, msg
	}
	if old := s.nodes[p]; old != nil {
		_ = os.Remove(old.file)
	}
	s.nodes[p] = n
	return 0, "", ""
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
