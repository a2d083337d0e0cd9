package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/registry"
)

// fakeCatalog is what Consul would list; the adapters are tested against a
// real agent elsewhere.
type fakeCatalog struct {
	mu  sync.Mutex
	svc map[string][]registry.Instance
}

func (c *fakeCatalog) set(name string, ins ...registry.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.svc == nil {
		c.svc = map[string][]registry.Instance{}
	}
	c.svc[name] = ins
}

func (c *fakeCatalog) Instances(_ context.Context, name string, passing bool) ([]registry.Instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []registry.Instance
	for _, in := range c.svc[name] {
		if !passing || in.Status == api.HealthPassing {
			out = append(out, in)
		}
	}
	return out, nil
}

func inst(addr string, port int, status string) registry.Instance {
	return registry.Instance{Address: addr, Port: port, Status: status}
}

type fakeLock struct{ released bool }

func (l *fakeLock) Lost() <-chan struct{}         { return nil }
func (l *fakeLock) Release(context.Context) error { l.released = true; return nil }

type fakeLocker struct {
	lock    *fakeLock
	onTaken func() // runs once the lock is held: what others did meanwhile
}

func (f *fakeLocker) Acquire(context.Context, string, string) (Lock, error) {
	f.lock = &fakeLock{}
	if f.onTaken != nil {
		f.onTaken()
	}
	return f.lock, nil
}

func newTestResolver(t *testing.T, cat *fakeCatalog, lk *fakeLocker, ask SentinelView, masters map[string]bool, hasData bool) *Resolver {
	t.Helper()
	r, err := NewResolver(ResolverOptions{
		Catalog: cat, Locker: lk, Ask: ask,
		Probe: func(_ context.Context, addr string) error {
			if masters[addr] {
				return nil
			}
			return fmt.Errorf("%s does not answer", addr)
		},
		Self: "10.0.0.1:6379", SelfSentinel: "10.0.0.1:26379",
		HasData:    func() (bool, error) { return hasData, nil },
		MasterWait: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	old := resolvePoll
	resolvePoll = 20 * time.Millisecond
	t.Cleanup(func() { resolvePoll = old })
	says := func(m string) SentinelView {
		return func(context.Context, []string) (string, error) { return m, nil }
	}
	noMajority := func(context.Context, []string) (string, error) { return "", errors.New("no majority") }
	sentinels := []registry.Instance{inst("10.0.0.2", 26379, api.HealthPassing), inst("10.0.0.3", 26379, api.HealthPassing)}

	tests := []struct {
		name     string
		setup    func(c *fakeCatalog, l *fakeLocker)
		ask      SentinelView
		masters  map[string]bool
		hasData  bool
		role     Role
		master   string
		reason   string
		locked   bool   // the plan holds the bootstrap lock
		released bool   // the lock was taken and given back
		last     string // registry.KeyLastMaster's value
		waited   bool   // Resolve waited MasterWait before electing
	}{
		{name: "empty cluster: elected under the lock", ask: noMajority,
			role: RoleMaster, master: "10.0.0.1:6379", reason: "elected master under the bootstrap lock", locked: true},
		{name: "sentinels name a live master: replica (an old master coming back)",
			setup: func(c *fakeCatalog, _ *fakeLocker) {
				c.set(registry.ServiceSentinel, sentinels...)
				// Consul still lists this node as redis: Sentinel wins.
				c.set(registry.ServiceMaster, inst("10.0.0.1", 6379, api.HealthPassing))
			},
			ask: says("10.0.0.2:6379"), masters: map[string]bool{"10.0.0.2:6379": true},
			role: RoleReplica, master: "10.0.0.2:6379", reason: "majority of sentinels name 10.0.0.2:6379"},
		{name: "sentinels name a dead master: Consul's passing master",
			setup: func(c *fakeCatalog, _ *fakeLocker) {
				c.set(registry.ServiceSentinel, sentinels...)
				c.set(registry.ServiceMaster, inst("10.0.0.3", 6379, api.HealthPassing))
			},
			ask: says("10.0.0.2:6379"), masters: map[string]bool{"10.0.0.3:6379": true},
			role: RoleReplica, master: "10.0.0.3:6379", reason: "Consul lists 10.0.0.3:6379"},
		{name: "sentinels name this node and its data is here",
			setup: func(c *fakeCatalog, _ *fakeLocker) { c.set(registry.ServiceSentinel, sentinels...) },
			ask:   says("10.0.0.1:6379"), hasData: true,
			role: RoleMaster, master: "10.0.0.1:6379", reason: "still name this node master"},
		{name: "sentinels name this node but it lost its data: wait, then elect",
			setup: func(c *fakeCatalog, _ *fakeLocker) { c.set(registry.ServiceSentinel, sentinels...) },
			ask:   says("10.0.0.1:6379"),
			role:  RoleMaster, reason: "waiting for them to fail over", locked: true, master: "10.0.0.1:6379", waited: true},
		{name: "a registered master that is not passing yet is waited for",
			setup: func(c *fakeCatalog, _ *fakeLocker) {
				c.set(registry.ServiceMaster, inst("10.0.0.2", 6379, api.HealthCritical))
				go func() {
					time.Sleep(100 * time.Millisecond) // the other node's check passes later
					c.set(registry.ServiceMaster, inst("10.0.0.2", 6379, api.HealthPassing))
				}()
			},
			ask: noMajority, masters: map[string]bool{"10.0.0.2:6379": true},
			role: RoleReplica, master: "10.0.0.2:6379", reason: "Consul lists 10.0.0.2:6379"},
		{name: "a master that appeared while waiting for the lock wins",
			setup: func(c *fakeCatalog, l *fakeLocker) {
				l.onTaken = func() { c.set(registry.ServiceMaster, inst("10.0.0.3", 6379, api.HealthPassing)) }
			},
			ask: noMajority, masters: map[string]bool{"10.0.0.3:6379": true},
			role: RoleReplica, master: "10.0.0.3:6379", released: true},
		{name: "the last master goes first when the whole cluster restarts", ask: noMajority,
			last: "10.0.0.1:6379", hasData: true,
			role: RoleMaster, master: "10.0.0.1:6379", reason: "no master in Sentinel or Consul", locked: true},
		{name: "another last master is given the first chance: it comes back",
			setup: func(c *fakeCatalog, _ *fakeLocker) {
				go func() {
					time.Sleep(100 * time.Millisecond) // it registers, then passes
					c.set(registry.ServiceMaster, inst("10.0.0.2", 6379, api.HealthCritical))
					time.Sleep(50 * time.Millisecond)
					c.set(registry.ServiceMaster, inst("10.0.0.2", 6379, api.HealthPassing))
				}()
			},
			ask: noMajority, last: "10.0.0.2:6379", hasData: true, masters: map[string]bool{"10.0.0.2:6379": true},
			role: RoleReplica, master: "10.0.0.2:6379", reason: "Consul lists 10.0.0.2:6379"},
		{name: "another last master that does not come back is waited for, then this node is elected",
			ask: noMajority, last: "10.0.0.2:6379", hasData: true, waited: true,
			role: RoleMaster, master: "10.0.0.1:6379", reason: "10.0.0.2:6379 was the last master and has the newest data", locked: true},
		{name: "the last master without its data waits for a node with data",
			ask: noMajority, last: "10.0.0.1:6379", waited: true,
			role: RoleMaster, master: "10.0.0.1:6379", reason: "its data directory is empty", locked: true},
		{name: "this node's own stale registration is ignored",
			setup: func(c *fakeCatalog, _ *fakeLocker) {
				c.set(registry.ServiceMaster, inst("10.0.0.1", 6379, api.HealthCritical))
			},
			ask:  noMajority,
			role: RoleMaster, master: "10.0.0.1:6379", reason: "no master in Sentinel or Consul", locked: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cat, lk := &fakeCatalog{}, &fakeLocker{}
			if tc.setup != nil {
				tc.setup(cat, lk)
			}
			r := newTestResolver(t, cat, lk, tc.ask, tc.masters, tc.hasData)
			r.o.LastMaster = func(context.Context) (string, error) { return tc.last, nil }
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			p, err := r.Resolve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if waited := time.Since(start) >= r.o.MasterWait; waited != tc.waited {
				t.Errorf("Resolve took %s; waited MasterWait (%s) = %v, want %v", time.Since(start), r.o.MasterWait, waited, tc.waited)
			}
			if p.Role != tc.role || p.Master != tc.master {
				t.Fatalf("plan %s of %s, want %s of %s (%s)", p.Role, p.Master, tc.role, tc.master, p.Reason)
			}
			if !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", p.Reason, tc.reason)
			}
			if (p.Lock != nil) != tc.locked {
				t.Errorf("plan holds lock = %v, want %v", p.Lock != nil, tc.locked)
			}
			if tc.released && (lk.lock == nil || !lk.lock.released) {
				t.Errorf("the lock taken was not released")
			}
		})
	}
}

// TestResolveOnIPv6 checks addresses are joined as [host]:port: a node
// on ::1 recognises its own registration, and a master on ::2 is probed
// and followed at the address Sentinel and INFO use ("%s:%d" gave
// "::1:6379", which never equalled the node's own "[::1]:6379").
func TestResolveOnIPv6(t *testing.T) {
	tests := []struct {
		name, master string
		setup        func(c *fakeCatalog)
		role         Role
	}{
		{"this node's own stale registration is ignored", "[::1]:6379",
			func(c *fakeCatalog) { c.set(registry.ServiceMaster, inst("::1", 6379, api.HealthCritical)) }, RoleMaster},
		{"a passing master on ::2 is followed", "[::2]:6379",
			func(c *fakeCatalog) { c.set(registry.ServiceMaster, inst("::2", 6379, api.HealthPassing)) }, RoleReplica},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cat := &fakeCatalog{}
			tc.setup(cat)
			noMajority := func(context.Context, []string) (string, error) { return "", errors.New("no majority") }
			r := newTestResolver(t, cat, &fakeLocker{}, noMajority, map[string]bool{"[::2]:6379": true}, true)
			r.o.Self, r.o.SelfSentinel, r.o.MasterWait = "[::1]:6379", "[::1]:26379", 5*time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			p, err := r.Resolve(ctx)
			if err != nil {
				t.Fatalf("Resolve: %v (waited for a registration it did not recognise?)", err)
			}
			if p.Role != tc.role || p.Master != tc.master {
				t.Errorf("plan %s of %s, want %s of %s (%s)", p.Role, p.Master, tc.role, tc.master, p.Reason)
			}
		})
	}
}
