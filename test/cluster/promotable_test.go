package cluster

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestJoiningReplicaPassesOnlyWhenPromotable starts a master alone, then
// a second node, and sends SENTINEL FAILOVER to the master's own sentinel
// the moment Consul first lists the new replica as passing: the sentinels
// must be able to promote it then (before, Consul listed a joining
// replica about a second after its start, and SENTINEL FAILOVER answered
// NOGOODSLAVE for up to 10 s, until the sentinels had read the master's
// INFO). It logs what the wait costs: from the replica's link up to its
// check passing.
func TestJoiningReplicaPassesOnlyWhenPromotable(t *testing.T) {
	t.Parallel()
	c := nodes.New(t)
	a := c.StartNodes(1)[0]
	c.WaitTopology(60*time.Second, a.Addr(), 0, 1)
	b := c.AddNode()
	start := time.Now()
	b.Start()
	ctx := nodes.Ctx(t, 90*time.Second)
	var linkUp time.Time
	for {
		if linkUp.IsZero() {
			if info, err := b.Client.Info(ctx, "replication").Result(); err == nil && strings.Contains(info, "master_link_status:up") {
				linkUp = time.Now()
			}
		}
		if slices.Contains(c.Instances(registry.ServiceReplica, true), b.Addr()) {
			break
		}
		if err := ctxtime.Sleep(ctx, 20*time.Millisecond); err != nil {
			t.Fatalf("the new replica %s never passed in Consul: %v", b.Addr(), err)
		}
	}
	passing := time.Now()
	sc := sentinel.Dial(a.SentinelAddr(), "")
	defer sc.Close()
	err := sc.Failover(nodes.Ctx(t, 5*time.Second), lifecycle.MasterName)
	if linkUp.IsZero() {
		linkUp = passing
	}
	t.Logf("the new replica: started to link up %s, link up to passing in Consul %s; SENTINEL FAILOVER then: %v",
		linkUp.Sub(start).Round(10*time.Millisecond), passing.Sub(linkUp).Round(10*time.Millisecond), err)
	if err != nil {
		t.Fatalf("SENTINEL FAILOVER to the master's sentinel the moment Consul listed the replica passing: %v", err)
	}
	c.WaitTopology(30*time.Second, b.Addr(), 1, 2)
}
