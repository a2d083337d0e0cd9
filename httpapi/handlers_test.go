package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
)

// fake is what the fake Status, Health and Role funcs answer.
type fake struct {
	status   lifecycle.Status
	healthy  bool
	reason   string
	role     string
	roleOK   bool
	lagBytes int64
}

func (f *fake) options(addr string) Options {
	return Options{
		Addr:   addr,
		Status: func() lifecycle.Status { return f.status },
		Health: func(context.Context) (bool, string) { return f.healthy, f.reason },
		Role:   func(context.Context) (string, bool, int64) { return f.role, f.roleOK, f.lagBytes },
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "redis_autopilot_role{role=\"master\"} 1\n")
		}),
	}
}

// serve starts an httptest server on the Handler of a Server built from f.
func serve(t *testing.T, f *fake) *httptest.Server {
	t.Helper()
	s, err := New(f.options("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// do sends method to url and returns the code and body.
func do(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	master := fake{healthy: true, role: RoleMaster, roleOK: true}
	replica := fake{healthy: true, role: RoleReplica, roleOK: true, lagBytes: 2048}
	cases := []struct {
		name   string
		f      fake
		method string
		path   string
		code   int
		body   string // a substring of the body
	}{
		{"health ok", master, "GET", "/health", 200, `"reason": "redis and sentinel are healthy"`},
		{"health failing", fake{reason: "sentinel does not answer PING"}, "GET", "/health", 503, "sentinel does not answer PING"},
		{"health HEAD", master, "HEAD", "/health", 200, ""},
		{"health OPTIONS (HAProxy default)", fake{}, "OPTIONS", "/health", 503, `"ok": false`},
		{"master on master", master, "GET", "/master", 200, `"role": "master"`},
		{"master on unhealthy master", fake{role: RoleMaster}, "GET", "/master", 503, "master but not healthy"},
		{"master on replica", replica, "GET", "/master", 503, "not the master (role replica)"},
		{"master with redis down", fake{lagBytes: -1}, "GET", "/master", 503, "redis does not answer"},
		{"replica on replica", replica, "GET", "/replica", 200, `"lag_bytes": 2048`},
		{"replica on master", master, "GET", "/replica", 503, "not a replica (role master)"},
		{"replica on unhealthy replica", fake{role: RoleReplica, lagBytes: -1}, "GET", "/replica", 503, "replica but not healthy"},
		{"replica lag within", replica, "GET", "/replica?lag=2048", 200, "healthy replica"},
		{"replica lag within, unit", replica, "GET", "/replica?lag=2kB", 200, "healthy replica"},
		{"replica lag exceeded", replica, "GET", "/replica?lag=2047", 503, "2048 bytes behind its master, more than lag=2047"},
		{"replica lag unknown", fake{role: RoleReplica, roleOK: true, lagBytes: -1}, "GET", "/replica?lag=1MB", 503, "lag is unknown"},
		{"replica lag unknown without lag=", fake{role: RoleReplica, roleOK: true, lagBytes: -1}, "GET", "/replica", 200, "healthy replica"},
		{"replica bad lag", replica, "GET", "/replica?lag=lots", 400, "want bytes"},
		{"status", fake{status: lifecycle.Status{Role: lifecycle.RoleMaster, Reason: "master, agreed"}}, "GET", "/status", 200, `"reason": "master, agreed"`},
		{"metrics", master, "GET", "/metrics", 200, `redis_autopilot_role{role="master"} 1`},
		{"read-only: POST", master, "POST", "/master", 405, "read-only"},
		{"read-only: DELETE status", master, "DELETE", "/status", 405, "read-only"},
		{"unknown path", master, "GET", "/primary", 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := serve(t, &c.f)
			code, body := do(t, c.method, ts.URL+c.path)
			if code != c.code || !strings.Contains(body, c.body) {
				t.Errorf("%s %s = %d %q, want %d containing %q", c.method, c.path, code, body, c.code, c.body)
			}
		})
	}
}

// TestStatusJSON checks that /status is lifecycle.Status exactly: every
// field README documents, decoded back equal.
func TestStatusJSON(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	st := lifecycle.Status{Role: lifecycle.RoleReplica, Self: "10.0.0.2:6379", Master: "10.0.0.1:6379",
		Registered: "redis-replica", Passing: true, SentinelMaster: "10.0.0.1:6379", SentinelError: "x",
		Reason: "replica of the agreed master", DecidedAt: now, ReasonSince: now.Add(-time.Minute),
		StartReason: "sentinels name 10.0.0.1:6379", TickError: "y"}
	ts := serve(t, &fake{status: st})
	code, body := do(t, "GET", ts.URL+"/status")
	if code != 200 {
		t.Fatalf("/status = %d %s", code, body)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(body), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"role", "self", "master", "registered_as", "passing", "sentinel_master", "sentinel_error",
		"reason", "decided_at", "reason_since", "start_reason", "tick_error"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("/status has no %q: %s", k, body)
		}
	}
	var got lifecycle.Status
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Errorf("/status decoded = %+v, want %+v", got, st)
	}
}

// TestStatusPITR: /status carries the shipping progress while the node
// ships, and no "pitr" field when it does not.
func TestStatusPITR(t *testing.T) {
	f := &fake{status: lifecycle.Status{Role: lifecycle.RoleReplica}}
	o := f.options("127.0.0.1:0")
	var ship *pitr.Status
	o.PITR = func() (pitr.Status, bool) {
		if ship == nil {
			return pitr.Status{}, false
		}
		return *ship, true
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if _, body := do(t, "GET", ts.URL+"/status"); strings.Contains(body, "pitr") {
		t.Fatalf("/status of a node that does not ship: %s", body)
	}
	ship = &pitr.Status{Chain: "c", Node: "10.0.0.2:6379", LastTS: 1795866585, BytesBehind: 42, StoreError: "down"}
	_, body := do(t, "GET", ts.URL+"/status")
	var got StatusDoc
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.PITR == nil || *got.PITR != *ship || got.Role != lifecycle.RoleReplica {
		t.Fatalf("/status = %s, want the node's status and pitr %+v", body, *ship)
	}
}

// TestChecksHaveATimeout: a Role that blocks is cut off by Options.Timeout.
func TestChecksHaveATimeout(t *testing.T) {
	f := &fake{}
	o := f.options("127.0.0.1:0")
	o.Timeout = 100 * time.Millisecond
	o.Role = func(ctx context.Context) (string, bool, int64) {
		<-ctx.Done()
		return "", false, -1
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	start := time.Now()
	if code, body := do(t, "GET", ts.URL+"/master"); code != 503 {
		t.Errorf("/master with a blocked Role = %d %s, want 503", code, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("/master took %s with a 100ms timeout", d)
	}
}

func TestParseBytes(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1048576", 1 << 20, true}, {"16kB", 16 << 10, true}, {"64MB", 64 << 20, true},
		{"1GB", 1 << 30, true}, {"1gb", 1 << 30, true}, {"2TB", 2 << 40, true}, {"10B", 10, true}, {"5 MB", 5 << 20, true},
		{"", 0, false}, {"-1", 0, false}, {"1.5MB", 0, false}, {"12PB", 0, false}, {"MB", 0, false},
		{"99999999999TB", 0, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseBytes(c.in)
			if (err == nil) != c.ok || got != c.want {
				t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
			}
		})
	}
}
