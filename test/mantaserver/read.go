package mantaserver

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

func (s *Server) get(w http.ResponseWriter, r *http.Request, p string, f *Fault) {
	s.mu.Lock()
	n := s.lookup(p)
	s.mu.Unlock()
	switch {
	case n == nil:
		writeError(w, r, http.StatusNotFound, "ResourceNotFound", p+" was not found")
	case n.dir:
		s.list(w, r, p)
	default:
		s.getObject(w, r, n, f)
	}
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, n *node, f *Fault) {
	file, err := os.Open(n.file)
	if err != nil { // replaced or deleted meanwhile
		writeError(w, r, http.StatusNotFound, "ResourceNotFound", r.URL.Path+" was not found")
		return
	}
	defer file.Close()
	h := w.Header()
	for k, v := range n.meta {
		h[k] = v
	}
	h.Set("Etag", n.etag)
	h.Set("Content-Type", n.contentType)
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(n.md5))
	h.Set("Durability-Level", strconv.Itoa(n.durability))
	// Never Content-Encoding: Go clients would silently gunzip .gz objects.
	http.ServeContent(s.faultyWriter(w, f, n.size), r, "", n.mtime, file)
}

// entry is one line of a directory listing.
type entry struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Mtime       string `json:"mtime"`
	Etag        string `json:"etag,omitempty"`
	Size        *int64 `json:"size,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	ContentMD5  string `json:"contentMD5,omitempty"`
	Durability  int    `json:"durability,omitempty"`
}

// children returns the entries of directory p, sorted by name.
func (s *Server) children(p string) []entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []entry
	for q, n := range s.nodes {
		if path.Dir(q) != p {
			continue
		}
		e := entry{Name: path.Base(q), Type: "directory", Mtime: n.mtime.UTC().Format(mtimeFormat)}
		if !n.dir {
			size := n.size
			e.Type, e.Etag, e.Size, e.ContentType = "object", n.etag, &size, n.contentType
			e.ContentMD5, e.Durability = base64.StdEncoding.EncodeToString(n.md5), n.durability
		}
		out = append(out, e)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// list answers a directory GET: limit (default 256, 1..1024) entries from
// marker on, the marker itself included, as muskie does.
func (s *Server) list(w http.ResponseWriter, r *http.Request, p string) {
	limit := listLimitDef
	if v := r.URL.Query().Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > listLimitMax {
			writeError(w, r, http.StatusBadRequest, "InvalidArgumentError", "limit="+v+" is invalid")
			return
		}
		limit = l
	}
	all := s.children(p)
	marker := r.URL.Query().Get("marker")
	start := sort.Search(len(all), func(i int) bool { return all[i].Name >= marker })
	page := all[start:min(start+limit, len(all))]
	w.Header().Set("Content-Type", "application/x-json-stream; type=directory")
	w.Header().Set("Result-Set-Size", strconv.Itoa(len(all)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	enc := json.NewEncoder(w)
	for _, e := range page {
		_ = enc.Encode(e)
	}
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if isRoot(p) {
		writeError(w, r, http.StatusBadRequest, "OperationNotAllowedOnRootDirectory", p+" is a root directory")
		return
	}
	n := s.nodes[p]
	if n == nil {
		writeError(w, r, http.StatusNotFound, "ResourceNotFound", p+" was not found")
		return
	}
	if n.dir {
		for q := range s.nodes {
			if strings.HasPrefix(q, p+"/") {
				writeError(w, r, http.StatusBadRequest, "DirectoryNotEmpty", p+" is not empty")
				return
			}
		}
	} else {
		_ = os.Remove(n.file)
	}
	delete(s.nodes, p)
	w.WriteHeader(http.StatusNoContent)
}
