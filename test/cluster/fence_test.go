package cluster

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestFailedOverMasterIsFencedUntilDemoted freezes the master's redis until
// the sentinels have promoted another node, then thaws it. The old master
// comes back still reporting role master, and Sentinel demotes it only
// about 8 s later: writes it took in that window would be lost. The node
// fences them (min-replicas-to-write) at its next tick, and lifts the fence
// once Sentinel has made it a replica.
func TestFailedOverMasterIsFencedUntilDemoted(t *testing.T) {
	c := nodes.New(t)
	c.StartNodes(3)
	top := c.WaitTopology(60*time.Second, "", 2, 3)
	old := c.Node(top.Masters[0])
	thaw := freezeRedis(t, old)
	// The frozen redis fails its check at the node's next tick, before the
	// check's TTL (5 s) would lapse: clients stop writing to it. The check's
	// output says who failed it: the node gives its reason, Consul says
	// "TTL expired" (on a loaded host the node's first call may time out;
	// it says so again at the next tick).
	nodes.WaitFor(t, 15*time.Second, func() error {
		out, passing := masterCheck(t, c, old.Addr())
		if passing {
			return fmt.Errorf("the frozen master %s still passes in Consul", old.Addr())
		}
		if !strings.Contains(out, "redis does not answer") {
			return fmt.Errorf("the frozen master's check is failing, but not by its node: %q", out)
		}
		return nil
	})
	newTop := c.WaitTopology(40*time.Second, "!"+old.Addr(), 1, 3)
	t.Logf("%s promoted while %s was frozen", newTop.Masters[0], old.Addr())
	thaw()

	// Until Sentinel demotes it, a write to the old master must be refused.
	var fencedSeen bool
	nodes.WaitFor(t, 30*time.Second, func() error {
		ctx := nodes.Ctx(t, 2*time.Second)
		err := old.Client.Set(ctx, "fence-probe", "1", 0).Err()
		switch {
		case err != nil && strings.Contains(err.Error(), "NOREPLICAS"):
			fencedSeen = true
		case err != nil && strings.Contains(err.Error(), "READONLY"):
			// demoted
		case err == nil:
			return errors.New("the old master, which Sentinel has replaced, acknowledged a write")
		default:
			return err
		}
		role, err := old.Client.Do(ctx, "ROLE").Slice()
		if err != nil || len(role) == 0 || role[0] != "slave" {
			return fmt.Errorf("old master not demoted yet (ROLE %v, %v)", role, err)
		}
		return nil
	})
	if !fencedSeen {
		t.Errorf("never saw the fence (NOREPLICAS) before the old master was demoted:\n%s", old.Proc.Tail(30))
	}
	// Demoted, it lifts the fence: were Sentinel to promote it again, it
	// must take writes.
	waitFenceLifted(t, old)
	log := old.Log()
	for _, want := range []string{"writes fenced", "write fence lifted"} {
		if !strings.Contains(log, want) {
			t.Errorf("the old master's log does not say %q", want)
		}
	}
	c.WaitTopology(30*time.Second, newTop.Masters[0], 2, 3)
}

// TestWholeClusterRestartElectsTheLastMaster stops the replicas, writes to
// the master alone, stops it, and starts the replicas first. They wait for
// the last master (named in Consul's KV) instead of taking the bootstrap
// lock at once, so the write it alone holds survives.
func TestWholeClusterRestartElectsTheLastMaster(t *testing.T) {
	t.Parallel()
	c := nodes.New(t)
	started := c.StartNodes(3)
	top := c.WaitTopology(60*time.Second, "", 2, 3)
	master := c.Node(top.Masters[0])
	var replicas []*nodes.Node
	for _, n := range started {
		if n != master {
			replicas = append(replicas, n)
		}
	}
	ctx := nodes.Ctx(t, 30*time.Second)
	if err := master.Client.Set(ctx, "before", "everywhere", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := master.Client.Wait(ctx, 2, 5000).Result(); err != nil || n != 2 {
		t.Fatalf("WAIT 2 = %d, %v", n, err)
	}
	for _, r := range replicas {
		if code, _ := r.Term(20 * time.Second); code != 0 {
			t.Fatalf("replica %s exited %d", r.Addr(), code)
		}
	}
	nodes.WaitFor(t, 15*time.Second, func() error {
		return master.Client.Set(nodes.Ctx(t, time.Second), "after", "master only", 0).Err()
	})
	if code, _ := master.Term(20 * time.Second); code != 0 {
		t.Fatalf("master exited %d", code)
	}

	for _, r := range replicas {
		r.Start()
	}
	waiting := func() error {
		for _, r := range replicas {
			if !strings.Contains(r.Log(), "was the last master and has the newest data") {
				return fmt.Errorf("%s is not waiting for the last master", r.Addr())
			}
		}
		return nil
	}
	// Until both wait, or one of them is elected (the bug).
	nodes.WaitFor(t, 20*time.Second, func() error {
		if len(c.Topology().Masters) > 0 {
			return nil
		}
		return waiting()
	})
	if top := c.Topology(); len(top.Masters) != 0 {
		t.Fatalf("a replica was elected before the last master came back: %v", top.Masters)
	}
	if err := waiting(); err != nil {
		t.Fatal(err)
	}
	master.Start()
	c.WaitTopology(60*time.Second, master.Addr(), 2, 3)
	for _, n := range started {
		nodes.WaitFor(t, 20*time.Second, func() error {
			ctx := nodes.Ctx(t, time.Second)
			for key, want := range map[string]string{"before": "everywhere", "after": "master only"} {
				got, err := n.Client.Get(ctx, key).Result()
				if errors.Is(err, redis.Nil) || (err == nil && got != want) {
					return fmt.Errorf("%s: %s = %q, want %q", n.Addr(), key, got, want)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// TestPartitionedMasterFailsItsCheckBeforeTheTTL cuts the master off from
// the other nodes (their sentinels' packets dropped, Consul still
// reachable): its next tick finds no majority of sentinels and fails its
// check, well before the check's TTL (5 s) would lapse, while the sentinels
// on the majority side fail over. Healed, it is demoted and lifts its fence.
func TestPartitionedMasterFailsItsCheckBeforeTheTTL(t *testing.T) {
	if err := nodes.CgroupsAvailable(); err != nil {
		t.Skipf("partitions need cgroup v2 and root: %v", err)
	}
	c := nodes.NewWithOptions(t, nodes.Options{NodeIPs: true, Cgroups: true})
	c.StartNodes(3)
	top := c.WaitTopology(60*time.Second, "", 2, 3)
	old := c.Node(top.Masters[0])
	heal, err := c.Partition(old)
	if err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	nodes.WaitFor(t, 3500*time.Millisecond, func() error {
		if m := c.Instances("redis", true); len(m) == 1 && m[0] == old.Addr() {
			return fmt.Errorf("the cut-off master %s still passes in Consul", old.Addr())
		}
		return nil
	})
	t.Logf("the cut-off master failed its check %s after the cut", time.Since(cut).Round(10*time.Millisecond))
	newTop := c.WaitTopology(40*time.Second, "!"+old.Addr(), 1, 3)
	if err := heal(); err != nil {
		t.Fatal(err)
	}
	c.WaitTopology(40*time.Second, newTop.Masters[0], 2, 3)
	waitFenceLifted(t, old)
}

// waitFenceLifted waits until n's redis has min-replicas-to-write 0 again.
func waitFenceLifted(t *testing.T, n *nodes.Node) {
	t.Helper()
	nodes.WaitFor(t, 15*time.Second, func() error {
		v, err := n.Client.ConfigGet(nodes.Ctx(t, time.Second), "min-replicas-to-write").Result()
		if err != nil {
			return err
		}
		if v["min-replicas-to-write"] != "0" {
			return fmt.Errorf("min-replicas-to-write is %s on the demoted node %s", v["min-replicas-to-write"], n.Addr())
		}
		return nil
	})
}

// masterCheck is the output of the redis service check of addr in Consul,
// and whether it passes.
func masterCheck(t *testing.T, c *nodes.Cluster, addr string) (string, bool) {
	t.Helper()
	entries, _, err := c.Consul.Client.Health().Service("redis", "", false, nil)
	if err != nil {
		t.Fatalf("list redis: %v", err)
	}
	for _, e := range entries {
		if net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port)) != addr {
			continue
		}
		for _, ch := range e.Checks {
			if ch.ServiceID == e.Service.ID {
				return ch.Output, ch.Status == "passing"
			}
		}
	}
	return "no redis service of " + addr, false
}

// freezeRedis stops n's redis-server (SIGSTOP) and returns what thaws it;
// the test's end thaws it if the test did not.
func freezeRedis(t *testing.T, n *nodes.Node) (thaw func()) {
	t.Helper()
	pids := n.ChildPids("redis-server")
	if len(pids) != 1 {
		t.Fatalf("redis-server children of %s: %v", n.Name, pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	thaw = func() {
		once.Do(func() {
			if err := syscall.Kill(pids[0], syscall.SIGCONT); err != nil {
				t.Errorf("thaw redis-server of %s: %v", n.Name, err)
			}
		})
	}
	t.Cleanup(thaw)
	return thaw
}
