package forget

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// stepper runs Step by hand (as the lock's holder) and keeps every
// decision.
type stepper struct {
	t  *testing.T
	cl *Cleaner
	mu sync.Mutex
	ds []Decision
	os []Observation
}

func newStepper(t *testing.T, server *harness.Consul) *stepper {
	t.Helper()
	s := &stepper{t: t}
	cl, err := New(Options{Log: hclog.New(&hclog.LoggerOptions{Name: "forget", Level: hclog.Info}),
		Reg: newRegistry(t, server), Holder: "test", MasterName: "mymaster", Password: password,
		Grace: time.Second, Interval: 300 * time.Millisecond,
		Step: func(o Observation, d Decision) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.os, s.ds = append(s.os, o), append(s.ds, d)
		}})
	if err != nil {
		t.Fatal(err)
	}
	s.cl = cl
	return s
}

// until steps (every 50 ms, as harness.Eventually polls) until ok accepts the last decision, and fails
// the test after timeout.
func (s *stepper) until(timeout time.Duration, ok func(Observation, Decision) error) Decision {
	s.t.Helper()
	var d Decision
	harness.Eventually(s.t, timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.cl.Step(ctx, nil); err != nil {
			return err
		}
		s.mu.Lock()
		o := s.os[len(s.os)-1]
		d = s.ds[len(s.ds)-1]
		s.mu.Unlock()
		return ok(o, d)
	})
	return d
}

// waits steps until a decision is Wait with a reason that says why, once
// ready accepts the observation; it fails the test at once when a step
// decides never.
func (s *stepper) waits(timeout time.Duration, never Action, why string, ready func(Observation) error) Decision {
	s.t.Helper()
	d := s.until(timeout, func(o Observation, d Decision) error {
		if d.Action == never {
			return nil // reported below
		}
		if err := ready(o); err != nil {
			return fmt.Errorf("%w (%s: %s)", err, d.Action, d.Reason)
		}
		if d.Action != Wait || !strings.Contains(d.Reason, why) {
			return fmt.Errorf("%s: %s", d.Action, d.Reason)
		}
		return nil
	})
	if d.Action == never {
		s.t.Fatalf("%s: %s", d.Action, d.Reason)
	}
	return d
}

func (s *stepper) actions(a Action) []Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Decision
	for _, d := range s.ds {
		if d.Action == a {
			out = append(out, d)
		}
	}
	return out
}

// TestNoResetWhileTheMasterIsHandedOver: a master hands over (planned
// failover, or a master that stops) by fencing its writes, waiting for the
// replicas and asking its sentinel for SENTINEL FAILOVER; until the
// sentinel accepts, no sentinel flags anything. A sentinel reset then makes
// the sentinel asked answer NOGOODSLAVE while writes stay refused. The
// cleaner waits while the master's write fence is up, and resets once it
// is lifted.
func TestNoResetWhileTheMasterIsHandedOver(t *testing.T) {
	server := harness.StartConsul(t)
	master := harness.StartRedis(t, harness.RedisOptions{Password: password, Extra: []string{"repl-diskless-sync-delay 0"}})
	replica := harness.StartRedis(t, harness.RedisOptions{Password: password, ReplicaOf: master.Addr})
	gone := harness.StartRedis(t, harness.RedisOptions{Password: password, ReplicaOf: master.Addr})
	so := harness.SentinelOptions{MasterAddr: master.Addr, Password: password, Quorum: 2, DownAfter: time.Second}
	c := &cluster{t: t, consul: server, master: master, replica: replica}
	reg := newRegistry(t, server)
	register(t, reg, registry.ServiceMaster, "127.0.0.1", master.Port)
	register(t, reg, registry.ServiceReplica, "127.0.0.1", replica.Port)
	for range 2 {
		s := harness.StartSentinel(t, so)
		c.live = append(c.live, s)
		register(t, reg, registry.ServiceSentinel, "127.0.0.1", s.Port)
	}
	harness.Eventually(t, 30*time.Second, func() error {
		for _, s := range c.live {
			up, _, err := tables(ctxT(t, 5*time.Second), s.Addr)
			if err != nil || !strings.Contains(strings.Join(up, ","), gone.Addr) {
				return fmt.Errorf("%s lists up %v, not yet the replica %s (%v)", s.Addr, up, gone.Addr, err)
			}
		}
		return c.knowsLive(ctxT(t, 5*time.Second), false)
	})
	gone.Kill()
	if err := master.Client.ConfigSet(ctxT(t, 5*time.Second), "min-replicas-to-write", "1000000").Err(); err != nil {
		t.Fatal(err)
	}

	s := newStepper(t, server)
	d := s.waits(30*time.Second, Reset, "write fence is up", func(Observation) error { return nil })
	t.Logf("fenced: %s", d.Reason)

	if err := master.Client.ConfigSet(ctxT(t, 5*time.Second), "min-replicas-to-write", "0").Err(); err != nil {
		t.Fatal(err)
	}
	s.until(30*time.Second, func(o Observation, d Decision) error {
		if d.Action != Reset {
			return fmt.Errorf("%s: %s", d.Action, d.Reason)
		}
		return nil
	})
	if n := len(s.actions(Reset)); n != 1 {
		t.Errorf("%d resets, want 1 once the fence was lifted", n)
	}
}

// deadAgentCluster registers a master and live sentinels of it on the
// Consul server's agent, and dead sentinel registrations on a client agent
// that it then kills. It returns a stepper and the server's registry.
func deadAgentCluster(t *testing.T, live, dead int) (*stepper, *registry.Registry) {
	t.Helper()
	server := harness.StartConsul(t)
	agent := server.StartClientAgent(t)
	master := harness.StartRedis(t, harness.RedisOptions{Password: password})
	so := harness.SentinelOptions{MasterAddr: master.Addr, Password: password, Quorum: 2, DownAfter: time.Second}
	reg, other := newRegistry(t, server), newRegistry(t, agent)
	register(t, reg, registry.ServiceMaster, "127.0.0.1", master.Port)
	for range live {
		register(t, reg, registry.ServiceSentinel, "127.0.0.1", harness.StartSentinel(t, so).Port)
	}
	for range dead {
		register(t, other, registry.ServiceSentinel, "127.0.0.1", harness.FreePort(t))
	}
	agent.Kill()
	return newStepper(t, server), reg
}

// TestNoForgettingWithoutAMajorityOfTheRegistered: three of five nodes'
// Consul agents are gone (a partition that leaves Consul on the side of
// two). The tick passes a master only when a majority of every registered
// sentinel names it: removing the three registrations would let the two
// confirm their master alone while the other three fail over (two
// masters). So the registrations stay, and nothing is forgotten, while
// the sentinels naming the master are fewer than the others.
func TestNoForgettingWithoutAMajorityOfTheRegistered(t *testing.T) {
	s, _ := deadAgentCluster(t, 2, 3)
	d := s.waits(60*time.Second, Deregister, "only 2 of the 5 sentinels registered", func(o Observation) error {
		if len(o.Dead) < 3 {
			return fmt.Errorf("%d registrations of the dead agent past the grace period, want 3", len(o.Dead))
		}
		return nil
	})
	t.Logf("kept: %s", d.Reason)
}

// TestChurnedNodesRegistrationsAreRemoved: three nodes replaced faster
// than the grace period leave three registrations on agents that are gone
// beside three live sentinels that name a healthy master. The tick needs a
// majority of every registered sentinel (3 of 6 is none), so unless they
// are removed no master passes again; they are (a strict majority of the
// registered, as before, kept them forever: node-churn, seed 634458288).
func TestChurnedNodesRegistrationsAreRemoved(t *testing.T) {
	s, reg := deadAgentCluster(t, 3, 3)
	d := s.until(60*time.Second, func(o Observation, d Decision) error {
		if d.Action != Deregister {
			return fmt.Errorf("%s: %s", d.Action, d.Reason)
		}
		return nil
	})
	if len(d.Remove) != 3 {
		t.Errorf("removes %d registrations, want the dead agent's 3: %v", len(d.Remove), d.Remove)
	}
	harness.Eventually(t, 10*time.Second, func() error {
		ins, err := reg.Instances(ctxT(t, 5*time.Second), registry.ServiceSentinel, false)
		if err != nil || len(ins) != 3 {
			return fmt.Errorf("Consul holds %d sentinels (%v), want the 3 live ones", len(ins), err)
		}
		return nil
	})
}

// TestCrashLoopingReplicaIsNotForgotten: a replica's redis is down and its
// check critical for many grace periods, but its node's Consul agent is
// alive (a redis crash-looping under its supervisor). Sentinel flags it
// down; it is not departed, so no sentinel is reset to forget it: forgot,
// it would come back as a master no sentinel knows, and none would ever
// make it a replica (this round's soak, redis-crash-loop).
func TestCrashLoopingReplicaIsNotForgotten(t *testing.T) {
	server := harness.StartConsul(t)
	master := harness.StartRedis(t, harness.RedisOptions{Password: password})
	replica := harness.StartRedis(t, harness.RedisOptions{Password: password, ReplicaOf: master.Addr})
	so := harness.SentinelOptions{MasterAddr: master.Addr, Password: password, Quorum: 2, DownAfter: time.Second}
	reg := newRegistry(t, server)
	register(t, reg, registry.ServiceMaster, "127.0.0.1", master.Port)
	register(t, reg, registry.ServiceReplica, "127.0.0.1", replica.Port)
	for range 3 {
		register(t, reg, registry.ServiceSentinel, "127.0.0.1", harness.StartSentinel(t, so).Port)
	}
	s := newStepper(t, server)
	addr := replica.Addr
	s.until(60*time.Second, func(o Observation, d Decision) error {
		for _, v := range o.Views {
			if !slices.ContainsFunc(v.Replicas, func(e Entry) bool { return e.Addr == addr }) {
				return fmt.Errorf("sentinel %s does not list the replica %s yet", v.Sentinel, addr)
			}
		}
		return nil
	})
	replica.Kill()
	if err := reg.Fail(ctxT(t, 5*time.Second), registry.ServiceID(registry.ServiceReplica, "127.0.0.1", replica.Port), "redis does not answer"); err != nil {
		t.Fatal(err)
	}
	// Every sentinel flags it down, then five grace periods go by.
	var downAt time.Time
	s.until(60*time.Second, func(o Observation, d Decision) error {
		if d.Action == Reset && slices.Contains(d.Departed, addr) {
			return nil // reported below
		}
		for _, v := range o.Views {
			if !slices.ContainsFunc(v.Replicas, func(e Entry) bool { return e.Addr == addr && e.Down }) {
				return fmt.Errorf("sentinel %s does not flag the replica %s down yet", v.Sentinel, addr)
			}
		}
		if o.Absent[addr] != 0 {
			return fmt.Errorf("the replica %s counts as absent for %s while its agent is alive", addr, o.Absent[addr])
		}
		if downAt.IsZero() {
			downAt = time.Now()
		}
		if time.Since(downAt) < 5*o.Grace {
			return fmt.Errorf("flagged down for %s, watching for %s", time.Since(downAt).Round(time.Millisecond), 5*o.Grace)
		}
		return nil
	})
	for _, d := range s.actions(Reset) {
		if slices.Contains(d.Departed, addr) {
			t.Fatalf("a sentinel was reset to forget the crash-looping replica %s: %s", addr, d.Reason)
		}
	}
}
