package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/hashicorp/consul/api"
)

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr bool
	}{
		{"defaults", Options{API: api.DefaultConfig()}, false},
		{"no API config", Options{}, true},
		{"session TTL below Consul's minimum", Options{API: api.DefaultConfig(), SessionTTL: 5 * time.Second}, true},
		{"session TTL above a day", Options{API: api.DefaultConfig(), SessionTTL: 25 * time.Hour}, true},
		{"negative lock delay", Options{API: api.DefaultConfig(), LockDelay: -time.Second}, true},
		{"lock delay above a minute", Options{API: api.DefaultConfig(), LockDelay: 2 * time.Minute}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.o)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidOptions) {
					t.Fatalf("New: got %v, want ErrInvalidOptions", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if r.sessionTTL != DefaultSessionTTL || r.lockDelay != DefaultLockDelay {
				t.Fatalf("defaults: session TTL %s, lock delay %s", r.sessionTTL, r.lockDelay)
			}
		})
	}
}

func TestWaitLeader(t *testing.T) {
	t.Parallel()
	t.Run("leader", func(t *testing.T) {
		r := newRegistry(t, harness.StartConsul(t), Options{})
		if err := r.WaitLeader(testCtx(t)); err != nil {
			t.Fatalf("WaitLeader: %v", err)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		cfg := api.DefaultConfig()
		cfg.Address = fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
		r, err := New(Options{API: cfg})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err = r.WaitLeader(ctx)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("WaitLeader took %s with a 1s deadline", took)
		}
		if !errors.Is(err, ErrNoLeader) {
			t.Fatalf("WaitLeader: got %v, want ErrNoLeader", err)
		}
		for _, want := range []string{cfg.Address, "after 1", "CONSUL_HTTP_ADDR", "connection refused"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
}

func TestKV(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, harness.StartConsul(t), Options{})
	ctx := testCtx(t)
	if _, found, err := r.Get(ctx, KeyLastBackup); err != nil || found {
		t.Fatalf("Get of a missing key: found=%v err=%v, want not found and no error", found, err)
	}
	for _, v := range []string{"redis-backup-2026-11-21T20-00-00Z", "second", ""} {
		if err := r.Put(ctx, KeyLastBackup, v); err != nil {
			t.Fatalf("Put %q: %v", v, err)
		}
		got, found, err := r.Get(ctx, KeyLastBackup)
		if err != nil || !found || got != v {
			t.Fatalf("Get after Put %q: %q found=%v err=%v", v, got, found, err)
		}
	}
	if err := r.Delete(ctx, KeyLastBackup); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, found, err := r.Get(ctx, KeyLastBackup); err != nil || found {
		t.Fatalf("Get after Delete: found=%v err=%v", found, err)
	}
	if err := r.Delete(ctx, KeyLastBackup); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func TestErrorsNameWhatWasDone(t *testing.T) {
	t.Parallel()
	cfg := api.DefaultConfig()
	cfg.Address = fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	r, err := New(Options{API: cfg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := testCtx(t)
	_, _, getErr := r.Get(ctx, KeySentinelQuorum)
	_, lockErr := r.Acquire(ctx, KeyMasterLock, "me")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"get", getErr, "read key " + KeySentinelQuorum},
		{"put", r.Put(ctx, KeySentinelFailoverTimeout, "1"), "write key " + KeySentinelFailoverTimeout},
		{"register", r.Register(ctx, Service{Name: ServiceSentinel, Address: "10.0.0.5", Port: 26379, TTL: time.Second}),
			"register service redis-sentinel-10.0.0.5-26379"},
		{"pass", r.Pass(ctx, "redis-10.0.0.5-6379", "ok"), "set check of service redis-10.0.0.5-6379 passing"},
		{"acquire", lockErr, "acquire lock " + KeyMasterLock + ": create session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
				t.Fatalf("error %v does not say %q", tt.err, tt.want)
			}
		})
	}
}

// TestWaitLeaderWaitsForTheAgentsNode: right after a client agent starts,
// it can know a leader before the servers have its own node in the catalog,
// and a session for it is refused ("Missing node registration"). After
// WaitLeader a lock (a session) is taken at once. Each round is a new agent.
func TestWaitLeaderWaitsForTheAgentsNode(t *testing.T) {
	t.Parallel()
	server := harness.StartConsul(t)
	for i := 0; i < 3; i++ {
		agent := server.StartClientAgentNoWait(t)
		r := newRegistry(t, agent, Options{})
		ctx := testCtx(t)
		if err := r.WaitLeader(ctx); err != nil {
			t.Fatalf("round %d: WaitLeader: %v", i, err)
		}
		l, err := r.Acquire(ctx, fmt.Sprintf("test/wait-leader/%d", i), agent.Node)
		if err != nil {
			t.Fatalf("round %d: lock right after WaitLeader: %v", i, err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
