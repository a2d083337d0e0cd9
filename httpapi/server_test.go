package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

func TestNewValidates(t *testing.T) {
	f := &fake{}
	noRole := f.options("127.0.0.1:0")
	noRole.Role = nil
	cases := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"off", Options{Addr: "off"}, true},
		{"empty is off", Options{}, true},
		{"on", f.options(":8008"), true},
		{"port only", f.options("8008"), false},
		{"missing Role", noRole, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.o)
			if c.ok != (err == nil) || err != nil && !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("New = %v, want ok %v or ErrInvalidOptions", err, c.ok)
			}
		})
	}
}

// start starts a Server from f on 127.0.0.1:0 and shuts it down at the end.
func start(t *testing.T, ctx context.Context, f *fake) *Server {
	t.Helper()
	return startWith(t, ctx, f.options("127.0.0.1:0"))
}

// startWith starts a Server from o and shuts it down at the end.
func startWith(t *testing.T, ctx context.Context, o Options) *Server {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func TestStartServesAndShutsDown(t *testing.T) {
	s := start(t, t.Context(), &fake{healthy: true, role: RoleMaster, roleOK: true})
	addr := s.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("Addr() = %q, want the bound port", addr)
	}
	if code, body := do(t, "GET", "http://"+addr+"/master"); code != 200 {
		t.Fatalf("GET /master = %d %s", code, body)
	}
	if err := s.Start(t.Context()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
	if s.Addr() != "" {
		t.Errorf("Addr() after Shutdown = %q, want empty", s.Addr())
	}
	if _, err := http.Get("http://" + addr + "/health"); err == nil {
		t.Error("GET after Shutdown answered")
	}
}

func TestStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s := start(t, ctx, &fake{healthy: true})
	addr := s.Addr()
	cancel()
	harness.Eventually(t, 5*time.Second, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return fmt.Errorf("%s still accepts after ctx ended", addr)
		}
		return nil
	})
}

func TestBindConflictNamesHTTPAddr(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	f := &fake{}
	s, err := New(f.options(taken.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(t.Context())
	if !errors.Is(err, ErrListen) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Start on a taken port = %v, want ErrListen and EADDRINUSE", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "HTTP_ADDR "+taken.Addr().String()) || !strings.Contains(msg, "address already in use") {
		t.Errorf("error %q should name HTTP_ADDR, the address and the cause", msg)
	}
	if s.Addr() != "" {
		t.Errorf("Addr() after a failed Start = %q", s.Addr())
	}
}

// TestServesMetrics scrapes a started listener's /metrics as the cluster
// tests do, with metrics.Scrape.
func TestServesMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveStatus(lifecycle.Status{Role: lifecycle.RoleReplica, Registered: registry.ServiceReplica})
	f := &fake{}
	o := f.options("127.0.0.1:0")
	o.Metrics = metrics.Handler(reg)
	s := startWith(t, t.Context(), o)
	got, err := metrics.Scrape(t.Context(), "http://"+s.Addr()+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Get("redis_autopilot_role", "role", "replica"); !ok || v != 1 {
		t.Errorf(`redis_autopilot_role{role="replica"} = %v (present %v), want 1`, v, ok)
	}
	if v, ok := got.Get("redis_autopilot_registry_in_sync"); !ok || v != 1 {
		t.Errorf("redis_autopilot_registry_in_sync = %v (present %v), want 1", v, ok)
	}
	if _, ok := got.Get("process_resident_memory_bytes"); !ok {
		t.Error("no process_resident_memory_bytes: the process collector is missing")
	}
}
