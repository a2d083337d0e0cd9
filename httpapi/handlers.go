package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
)

// Roles as RoleFunc reports them.
const (
	RoleMaster  = "master"
	RoleReplica = "replica"
)

// MaxStatusReply is the most bytes a client reads of /status: a node's
// status is a few KiB (reasons, the sentinels' names), so more is not a
// node answering.
const MaxStatusReply = 1 << 20

// CheckResult is the JSON body of /health, /master and /replica.
type CheckResult struct {
	// OK is whether the check passed (the status code is 200).
	OK bool `json:"ok"`
	// Reason says why, as one English sentence.
	Reason string `json:"reason"`
	// Role, Healthy and LagBytes are what RoleFunc said (/master, /replica).
	Role     string `json:"role,omitempty"`
	Healthy  *bool  `json:"healthy,omitempty"`
	LagBytes *int64 `json:"lag_bytes,omitempty"`
}

// Handler is the listener's handler, for tests with httptest.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", methods(s.o.Metrics, http.MethodGet, http.MethodHead))
	mux.Handle("/status", methods(http.HandlerFunc(s.status), http.MethodGet, http.MethodHead))
	// OPTIONS too: HAProxy's `option httpchk` sends OPTIONS by default.
	check := []string{http.MethodGet, http.MethodHead, http.MethodOptions}
	mux.Handle("/health", methods(http.HandlerFunc(s.health), check...))
	mux.Handle("/master", methods(http.HandlerFunc(s.master), check...))
	mux.Handle("/replica", methods(http.HandlerFunc(s.replica), check...))
	return mux
}

// methods answers 405 to any method not in allowed.
func methods(h http.Handler, allowed ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allowed {
			if r.Method == m {
				h.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		http.Error(w, "read-only endpoint: "+strings.Join(allowed, ", ")+" only", http.StatusMethodNotAllowed)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "encode JSON: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeCheck(w http.ResponseWriter, res CheckResult) {
	code := http.StatusServiceUnavailable
	if res.OK {
		code = http.StatusOK
	}
	writeJSON(w, code, res)
}

// StatusDoc is the JSON of /status: the node's last status and, while
// this node ships the AOF, its point-in-time progress.
type StatusDoc struct {
	lifecycle.Status
	PITR *pitr.Status `json:"pitr,omitempty"`
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	doc := StatusDoc{Status: s.o.Status()}
	if s.o.PITR != nil {
		if st, ok := s.o.PITR(); ok {
			doc.PITR = &st
		}
	}
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.o.Timeout)
	defer cancel()
	ok, reason := s.o.Health(ctx)
	if ok && reason == "" {
		reason = "redis and sentinel are healthy"
	}
	writeCheck(w, CheckResult{OK: ok, Reason: reason})
}

// role calls Role within the timeout.
func (s *Server) role(r *http.Request) CheckResult {
	ctx, cancel := context.WithTimeout(r.Context(), s.o.Timeout)
	defer cancel()
	role, healthy, lag := s.o.Role(ctx)
	return CheckResult{Role: role, Healthy: &healthy, LagBytes: &lag}
}

// master is 200 only on a healthy master.
func (s *Server) master(w http.ResponseWriter, r *http.Request) {
	res := s.role(r)
	switch {
	case res.Role != RoleMaster:
		res.Reason = "this node is not the master (role " + roleName(res.Role) + ")"
	case !*res.Healthy:
		res.Reason = "this node is the master but not healthy"
	default:
		res.OK, res.Reason = true, "this node is the master and healthy"
	}
	writeCheck(w, res)
}

// replica is 200 only on a healthy replica; with ?lag=N also only when it
// is at most N bytes behind its master.
func (s *Server) replica(w http.ResponseWriter, r *http.Request) {
	maxLag, hasLag, err := lagParam(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res := s.role(r)
	lag := *res.LagBytes
	switch {
	case res.Role != RoleReplica:
		res.Reason = "this node is not a replica (role " + roleName(res.Role) + ")"
	case !*res.Healthy:
		res.Reason = "this node is a replica but not healthy"
	case hasLag && lag < 0:
		res.Reason = "this node is a replica but its lag is unknown"
	case hasLag && lag > maxLag:
		res.Reason = fmt.Sprintf("this node is a replica %d bytes behind its master, more than lag=%d", lag, maxLag)
	default:
		res.OK, res.Reason = true, "this node is a healthy replica"
	}
	writeCheck(w, res)
}

func roleName(role string) string {
	if role == "" {
		return "unknown: redis does not answer"
	}
	return role
}

// lagParam reads ?lag=N: bytes, or with a unit as Patroni and PostgreSQL
// write them (B, kB, MB, GB, TB; powers of 1024).
func lagParam(r *http.Request) (n int64, ok bool, err error) {
	v := r.URL.Query().Get("lag")
	if v == "" {
		return 0, false, nil
	}
	n, err = ParseBytes(v)
	return n, err == nil, err
}

// ParseBytes parses a byte count: "1048576", "16kB", "64MB", "1GB" (units
// as PostgreSQL and Patroni's max-lag: powers of 1024, case-insensitive).
func ParseBytes(s string) (int64, error) {
	num := strings.TrimRight(s, "BbKkMmGgTt")
	unit := strings.ToLower(strings.TrimSpace(s[len(num):]))
	mult, ok := map[string]int64{"": 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40}[unit]
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	switch {
	case !ok || err != nil:
		return 0, fmt.Errorf("lag %q: want bytes, e.g. 1048576 or 16kB, 64MB, 1GB", s)
	case n < 0 || n > (1<<62)/mult:
		return 0, fmt.Errorf("lag %q: out of range", s)
	}
	return n * mult, nil
}
