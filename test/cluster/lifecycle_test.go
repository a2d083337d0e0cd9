package cluster

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"

	"github.com/redis/go-redis/v9"
)

// TestShellVersionScenario is the shell version's own cluster test, with the
// part it had to disable: one node, then three; a value written on the
// master read on every replica; SENTINEL FAILOVER followed by the registry;
// the master node SIGKILLed (supervisor, redis and sentinel) and a new master
// passing; the old node restarted rejoining as a replica.
func TestShellVersionScenario(t *testing.T) {
	t.Parallel()
	shellVersionScenario(t, nodes.New(t))
}

// TestShellVersionScenarioIPv6 is the same scenario with every node on
// ::1: addresses are [::1]:port in Consul, Sentinel and INFO, and a node
// must still recognise its own (they were joined with "%s:%d" once, and a
// node never found itself).
func TestShellVersionScenarioIPv6(t *testing.T) {
	t.Parallel()
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no ::1 here (ip -6 addr add ::1/128 dev lo): %v", err)
	} else {
		ln.Close()
	}
	shellVersionScenario(t, nodes.NewWithOptions(t, nodes.Options{IPv6: true}))
}

func shellVersionScenario(t *testing.T, c *nodes.Cluster) {
	first := c.AddNode().Start()
	c.WaitTopology(30*time.Second, first.Addr(), 0, 1)
	if !strings.Contains(first.Log(), "elected master under the bootstrap lock") {
		t.Errorf("the first node's log does not say why it is master")
	}

	a, b := c.AddNode().Start(), c.AddNode().Start()
	top := c.WaitTopology(40*time.Second, first.Addr(), 2, 3)
	if fmt.Sprint(top.Replicas) != fmt.Sprint(sorted(a.Addr(), b.Addr())) {
		t.Fatalf("replicas %v, want %s and %s", top.Replicas, a.Addr(), b.Addr())
	}

	t.Run("a value written on the master is read on every replica", func(t *testing.T) {
		ctx := nodes.Ctx(t, 20*time.Second)
		if err := first.Client.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
			t.Fatal(err)
		}
		for _, n := range []*nodes.Node{a, b} {
			waitValue(t, n, "greeting", "hello")
		}
	})

	t.Run("SENTINEL FAILOVER is followed by the registry", func(t *testing.T) {
		stop := make(chan struct{})
		most := c.WatchMasters(stop)
		defer func() {
			close(stop)
			if m := <-most; m > 1 {
				t.Errorf("Consul listed %d passing redis masters at once during the failover", m)
			}
		}()
		ctx := nodes.Ctx(t, 30*time.Second)
		s := redis.NewSentinelClient(&redis.Options{Addr: a.SentinelAddr()})
		defer s.Close()
		if err := s.Failover(ctx, "mymaster").Err(); err != nil {
			t.Fatalf("SENTINEL FAILOVER: %v", err)
		}
		start := time.Now()
		var master string
		nodes.WaitFor(t, 20*time.Second, func() error {
			m := c.Instances("redis", true)
			if len(m) != 1 || m[0] == first.Addr() {
				return fmt.Errorf("passing masters %v, old master %s", m, first.Addr())
			}
			master = m[0]
			return nil
		})
		t.Logf("registry names %s as master %s after SENTINEL FAILOVER", master, time.Since(start).Round(time.Millisecond))
		// Sentinel re-points the live old master after a while (about 10 s).
		top := c.WaitTopology(40*time.Second, master, 2, 3)
		t.Logf("old master %s passing as replica %s after SENTINEL FAILOVER", first.Addr(), time.Since(start).Round(time.Millisecond))
		if !contains(top.Replicas, first.Addr()) {
			t.Fatalf("old master %s is not listed as a passing replica: %v", first.Addr(), top.Replicas)
		}
	})

	t.Run("the master node SIGKILLed: a new master passes; the old node rejoins as replica", func(t *testing.T) {
		old := c.Node(c.Topology().Masters[0])
		stop := make(chan struct{})
		most := c.WatchMasters(stop)
		defer func() {
			close(stop)
			if m := <-most; m > 1 {
				t.Errorf("Consul listed %d passing redis masters at once while the old master died and came back", m)
			}
		}()
		old.KillAll()
		start := time.Now()
		var top nodes.Topology
		nodes.WaitFor(t, 60*time.Second, func() error {
			top = c.Topology()
			if len(top.Masters) != 1 || top.Masters[0] == old.Addr() {
				return fmt.Errorf("passing masters %v (the killed one is %s)", top.Masters, old.Addr())
			}
			return nil
		})
		t.Logf("new master %s passing %s after SIGKILL of %s", top.Masters[0], time.Since(start).Round(time.Millisecond), old.Addr())
		old.Start()
		c.WaitTopology(60*time.Second, top.Masters[0], 2, 3)
		if !strings.Contains(old.Log(), "role resolved: role=replica") {
			t.Errorf("restarted old master did not resolve as replica:\n%s", old.Proc.Tail(30))
		}
		waitValue(t, old, "greeting", "hello")
	})
}

func waitValue(t *testing.T, n *nodes.Node, key, want string) {
	t.Helper()
	nodes.WaitFor(t, 20*time.Second, func() error {
		got, err := n.Client.Get(nodes.Ctx(t, time.Second), key).Result()
		if err != nil {
			return fmt.Errorf("GET %s on %s: %w", key, n.Name, err)
		}
		if got != want {
			return fmt.Errorf("%s has %s=%q, want %q", n.Name, key, got, want)
		}
		return nil
	})
}

func sorted(s ...string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
