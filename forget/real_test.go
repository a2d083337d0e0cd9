package forget

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

const password = "s3cret"

// cluster is a master, replicas and sentinels, real processes, with their
// registrations in a real Consul.
type cluster struct {
	t       *testing.T
	consul  *harness.Consul
	master  *harness.Redis
	live    []*harness.Sentinel
	replica *harness.Redis
}

func register(t *testing.T, reg *registry.Registry, name, addr string, port int) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	s := registry.Service{Name: name, Address: addr, Port: port, TTL: time.Hour}
	if err := reg.Register(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := reg.Pass(ctx, registry.ServiceID(name, addr, port), "test"); err != nil {
		t.Fatal(err)
	}
}

func newRegistry(t *testing.T, c *harness.Consul) *registry.Registry {
	t.Helper()
	reg, err := registry.New(registry.Options{API: c.APIConfig()})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// tables is what the sentinel at addr lists as up and as down.
func tables(ctx context.Context, addr string) (up, down []string, err error) {
	s := sentinel.Dial(addr, password)
	defer s.Close()
	reps, err := s.Replicas(ctx, "mymaster")
	if err != nil {
		return nil, nil, err
	}
	sents, err := s.Sentinels(ctx, "mymaster")
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries(append(reps, sents...)) {
		if e.Down {
			down = append(down, e.Addr)
		} else {
			up = append(up, e.Addr)
		}
	}
	sort.Strings(up)
	sort.Strings(down)
	return up, down, nil
}

// want is what the live sentinel at addr should list as up: the replica
// and the other live sentinels.
func (c *cluster) want(addr string) []string {
	out := []string{c.replica.Addr}
	for _, s := range c.live {
		if s.Addr != addr {
			out = append(out, s.Addr)
		}
	}
	sort.Strings(out)
	return out
}

// knowsLive fails unless every live sentinel lists every live replica and
// other live sentinel as up (extra entries allowed when exact is false).
func (c *cluster) knowsLive(ctx context.Context, exact bool) error {
	for _, s := range c.live {
		up, down, err := tables(ctx, s.Addr)
		if err != nil {
			return err
		}
		want := c.want(s.Addr)
		if exact && (strings.Join(up, ",") != strings.Join(want, ",") || len(down) > 0) {
			return fmt.Errorf("%s lists up %v and down %v, want up %v only", s.Addr, up, down, want)
		}
		for _, w := range want {
			if !strings.Contains(","+strings.Join(up, ",")+",", ","+w+",") {
				return fmt.Errorf("%s does not list %s up: up %v, down %v", s.Addr, w, up, down)
			}
		}
	}
	return nil
}

// counted are the actions a cleaner reported, "action/outcome" -> count.
type counted struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counted) ForgetAction(action, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[action+"/"+outcome]++
}
func (c *counted) LockAcquired(string) {}
func (c *counted) LockReleased(string) {}

func (c *counted) get() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// TestForgetsDepartedOneSentinelAtATime: a replica, a sentinel and their
// Consul agent die without stopping. Two cleaners run; one holds the lock.
// It removes the dead agent's registrations, resets the three live
// sentinels one at a time, each only once every live sentinel knows every
// live replica and sentinel, and leaves a cluster that still fails over.
func TestForgetsDepartedOneSentinelAtATime(t *testing.T) {
	server := harness.StartConsul(t)
	agent := server.StartClientAgent(t)
	c := &cluster{t: t, consul: server}
	c.master = harness.StartRedis(t, harness.RedisOptions{Password: password, Extra: []string{"repl-diskless-sync-delay 0"}})
	c.replica = harness.StartRedis(t, harness.RedisOptions{Password: password, ReplicaOf: c.master.Addr})
	gone := harness.StartRedis(t, harness.RedisOptions{Password: password, ReplicaOf: c.master.Addr})
	so := harness.SentinelOptions{MasterAddr: c.master.Addr, Password: password, Quorum: 2, DownAfter: time.Second, FailoverTimeout: 10 * time.Second}
	for range 3 {
		c.live = append(c.live, harness.StartSentinel(t, so))
	}
	goneSent := harness.StartSentinel(t, so)

	reg, dead := newRegistry(t, server), newRegistry(t, agent)
	register(t, reg, registry.ServiceMaster, "127.0.0.1", c.master.Port)
	register(t, reg, registry.ServiceReplica, "127.0.0.1", c.replica.Port)
	for _, s := range c.live {
		register(t, reg, registry.ServiceSentinel, "127.0.0.1", s.Port)
	}
	register(t, dead, registry.ServiceReplica, "127.0.0.1", gone.Port)
	register(t, dead, registry.ServiceSentinel, "127.0.0.1", goneSent.Port)
	c.live = append(c.live, goneSent) // until they all know each other
	harness.Eventually(t, 30*time.Second, func() error {
		if err := c.knowsLive(ctxT(t, 5*time.Second), false); err != nil {
			return err
		}
		up, _, err := tables(ctxT(t, 5*time.Second), c.live[0].Addr)
		if len(up) != 5 {
			return fmt.Errorf("the first sentinel lists %v up, want both replicas and three sentinels: %v", up, err)
		}
		return nil
	})
	c.live = c.live[:3]
	gone.Kill()
	goneSent.Kill()
	agent.Kill()

	var mu sync.Mutex
	var steps [2]int
	var resets []string
	var removed int
	var last Action // the holder's last decision; steps run one after another
	var problems []string
	events := &counted{n: map[string]int{}}
	for i := range 2 {
		cl, err := New(Options{Log: hclog.New(&hclog.LoggerOptions{Name: fmt.Sprintf("forget%d", i), Level: hclog.Info}),
			Reg: newRegistry(t, server), Holder: fmt.Sprint("cleaner-", i), MasterName: "mymaster", Password: password,
			Grace: 3 * time.Second, Interval: 300 * time.Millisecond, Events: events,
			Step: func(o Observation, d Decision) {
				mu.Lock()
				defer mu.Unlock()
				steps[i]++
				last = d.Action
				switch d.Action {
				case Reset:
					// Checked here, before the reset, against the sentinels
					// themselves: none is reset while another has not yet
					// rediscovered every live replica and sentinel.
					if err := c.knowsLive(ctxT(t, 5*time.Second), false); err != nil {
						problems = append(problems, fmt.Sprintf("reset of %s decided while %v", d.Sentinel, err))
					}
					resets = append(resets, d.Sentinel)
				case Deregister:
					removed += len(d.Remove)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); cl.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}

	harness.Eventually(t, 90*time.Second, func() error {
		if err := c.knowsLive(ctxT(t, 5*time.Second), true); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if removed < 2 {
			return fmt.Errorf("%d registrations of the dead agent removed, want 2", removed)
		}
		// A reset is decided before it is applied, and a sentinel reset
		// may list the live ones again before its step has restored the
		// INFO period and counted it: the holder deciding idle afterwards
		// says that step is over.
		if last != Idle {
			return fmt.Errorf("the holder's last decision is %s, want idle once the cleanup is over", last)
		}
		return nil
	})
	mu.Lock()
	t.Logf("resets in order: %v; steps per cleaner %v", resets, steps)
	if len(problems) > 0 {
		t.Errorf("unsafe resets: %v", problems)
	}
	if steps[0] > 0 && steps[1] > 0 {
		t.Errorf("both cleaners stepped (%v): the lock let two act", steps)
	}
	if len(resets) != 3 {
		t.Errorf("%d resets %v, want one of each live sentinel", len(resets), resets)
	}
	mu.Unlock()
	if got, want := events.get(), map[string]int{"sentinel_reset/done": 3, "registration_removed/done": 2}; !maps.Equal(got, want) {
		t.Errorf("actions counted %v, want %v", got, want)
	}
	for _, id := range []string{registry.ServiceID(registry.ServiceReplica, "127.0.0.1", gone.Port), registry.ServiceID(registry.ServiceSentinel, "127.0.0.1", goneSent.Port)} {
		svcs, _, err := server.Client.Catalog().NodeServiceList(agent.Node, nil)
		if err != nil {
			t.Fatal(err)
		}
		if svcs != nil {
			for _, s := range svcs.Services {
				if s.ID == id {
					t.Errorf("%s of the dead agent is still in the catalog", id)
				}
			}
		}
	}

	// The INFO period cut around each reset is back to Sentinel's 10 s.
	for _, s := range c.live {
		cl := sentinel.Dial(s.Addr, password)
		p, err := cl.InfoPeriod(ctxT(t, 5*time.Second))
		cl.Close()
		if err != nil || p != 10*time.Second {
			t.Errorf("%s: INFO period %s (%v), want 10s", s.Addr, p, err)
		}
	}

	// The cluster still fails over: with the departed sentinel forgotten,
	// the three live ones are every voter.
	c.master.Kill()
	harness.Eventually(t, 30*time.Second, func() error {
		_, err := c.agreeOn(ctxT(t, 5*time.Second), c.replica.Addr)
		return err
	})
}

// agreeOn fails unless every live sentinel names want as master.
func (c *cluster) agreeOn(ctx context.Context, want string) (string, error) {
	for _, s := range c.live {
		cl := sentinel.Dial(s.Addr, password)
		m, err := cl.GetMasterAddr(ctx, "mymaster")
		cl.Close()
		if err != nil {
			return "", err
		}
		if m != want {
			return m, fmt.Errorf("%s names %s, want %s", s.Addr, m, want)
		}
	}
	return want, nil
}
