package cluster

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// ttlCheck returns the TTL check of the redis service registered for
// addr, as the catalog holds it.
func ttlCheck(c *nodes.Cluster, addr string) (*api.HealthCheck, error) {
	entries, _, err := c.Consul.Client.Health().Service(registry.ServiceMaster, "", false, nil)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Service.Address+fmt.Sprintf(":%d", e.Service.Port) != addr {
			continue
		}
		for _, ch := range e.Checks {
			if ch.CheckID == registry.CheckID(e.Service.ID) {
				return ch, nil
			}
		}
	}
	return nil, fmt.Errorf("no redis TTL check for %s in the catalog", addr)
}

// eventTimes records when a sentinel first published each event type.
type eventTimes struct {
	mu sync.Mutex
	at map[string]time.Time
}

// watchEvents follows the sentinels at addrs: the first time any of
// them published each event.
func watchEvents(t *testing.T, addrs ...string) *eventTimes {
	t.Helper()
	et := &eventTimes{at: map[string]time.Time{}}
	ctx := nodes.Ctx(t, 5*time.Minute)
	for _, addr := range addrs {
		sc := sentinel.Dial(addr, "")
		t.Cleanup(func() { sc.Close() })
		events, err := sc.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for e := range events {
				et.mu.Lock()
				if _, ok := et.at[e.Type]; !ok {
					et.at[e.Type] = time.Now()
				}
				et.mu.Unlock()
			}
		}()
	}
	return et
}

func (et *eventTimes) get(typ string) time.Time {
	et.mu.Lock()
	defer et.mu.Unlock()
	return et.at[typ]
}

// TestFrozenMasterIsMarkedCriticalAtODown freezes the whole master node
// (supervisor, redis, sentinel: its cgroup): it cannot fail its own
// check. A replica's node marks it critical in the catalog when its
// sentinel flags it o_down, before the failover ends (before, Consul
// listed it passing until the new master marked it after +switch-master,
// or its TTL lapsed, and clients that find the master through Consul
// were sent to it meanwhile).
func TestFrozenMasterIsMarkedCriticalAtODown(t *testing.T) {
	if err := nodes.CgroupsAvailable(); err != nil {
		t.Skipf("freezing a node needs cgroup v2 and root: %v", err)
	}
	c := nodes.NewWithOptions(t, nodes.Options{NodeIPs: true, Cgroups: true})
	c.StartNodes(3)
	top := c.WaitTopology(60*time.Second, "", 2, 3)
	old := c.Node(top.Masters[0])
	events := watchEvents(t, c.Node(top.Replicas[0]).SentinelAddr(), c.Node(top.Replicas[1]).SentinelAddr())
	if err := old.Freeze(true); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	defer func() {
		if err := old.Freeze(false); err != nil {
			t.Error(err)
		}
	}()
	ctx := nodes.Ctx(t, 30*time.Second)
	var check *api.HealthCheck
	for {
		ch, err := ttlCheck(c, old.Addr())
		if err == nil && ch.Status == api.HealthCritical {
			check = ch
			break
		}
		if serr := ctxtime.Sleep(ctx, 20*time.Millisecond); serr != nil {
			t.Fatalf("the frozen master %s never went critical in Consul: %v", old.Addr(), errors.Join(err, serr))
		}
	}
	marked := time.Now()
	odown, switched := events.get("+odown"), events.get("+switch-master")
	t.Logf("froze the master; +odown after %s, its check critical after %s (%q), +switch-master after %s",
		since(frozen, odown), since(frozen, marked), check.Output, since(frozen, switched))
	if !strings.Contains(check.Output, "o_down") {
		t.Errorf("the frozen master's check went critical with %q, not marked for o_down", check.Output)
	}
	if !switched.IsZero() && switched.Before(marked) {
		t.Errorf("the frozen master went critical only after the failover ended (+switch-master %s before)", marked.Sub(switched))
	}
	c.WaitTopology(40*time.Second, "!"+old.Addr(), 1, 2)
}

// since is at-from rounded, or "never" when at is zero.
func since(from, at time.Time) string {
	if at.IsZero() {
		return "never (yet)"
	}
	return at.Sub(from).Round(10 * time.Millisecond).String()
}

// TestMarkedMasterPassesAgainAtOnce marks a healthy master critical in
// the catalog as another node does on o_down: when no failover follows,
// its node must pass it again at once, not at its agent's next full sync
// (a minute or more later), which would leave Consul with no master.
func TestMarkedMasterPassesAgainAtOnce(t *testing.T) {
	c := nodes.New(t)
	c.StartNodes(3)
	top := c.WaitTopology(60*time.Second, "", 2, 3)
	master := top.Masters[0]
	entries, _, err := c.Consul.Client.Health().Service(registry.ServiceMaster, "", true, nil)
	if err != nil || len(entries) != 1 {
		t.Fatalf("the passing master in Consul: %v, %v", entries, err)
	}
	e := entries[0]
	reg := &api.CatalogRegistration{Node: e.Node.Node, Address: e.Node.Address, SkipNodeUpdate: true,
		Check: &api.AgentCheck{Node: e.Node.Node, CheckID: registry.CheckID(e.Service.ID), Name: e.Service.ID + " TTL",
			ServiceID: e.Service.ID, Status: api.HealthCritical, Output: registry.MarkedCriticalPrefix + "the test says o_down"}}
	if _, err := c.Consul.Client.Catalog().Register(reg, nil); err != nil {
		t.Fatal(err)
	}
	marked := time.Now()
	nodes.WaitFor(t, 10*time.Second, func() error {
		if m := c.Instances(registry.ServiceMaster, true); len(m) != 1 || m[0] != master {
			return fmt.Errorf("passing masters %v, want %s again", m, master)
		}
		return nil
	})
	t.Logf("the master marked critical by another node passed again after %s", time.Since(marked).Round(10*time.Millisecond))
}
