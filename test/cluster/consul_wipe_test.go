package cluster

import (
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestWipedConsulServerIsRepopulated kills the Consul server and starts it
// again at once with no state (a rebuilt server). The nodes' own agents
// barely notice, and left alone they put their node and services back only
// at their next gossip push-pull and full sync (35-95 s in the reliability
// suite). The nodes see that the catalog lost them, join again and
// register again: the cluster is listed whole within 20 s.
func TestWipedConsulServerIsRepopulated(t *testing.T) {
	t.Parallel()
	c := nodes.NewWithOptions(t, nodes.Options{NodeIPs: true, BindAll: true, ConsulAgents: true, RestartableConsul: true})
	c.StartNodes(3)
	top := c.WaitTopology(90*time.Second, "", 2, 3)
	c.KillConsul()
	if err := c.RestartConsul(true); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	c.WaitTopology(20*time.Second, top.Masters[0], 2, 3)
	t.Logf("Consul lists the whole cluster again %s after the server came back empty", time.Since(restarted).Round(100*time.Millisecond))
}
