package cluster

import (
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestBindToOneAddress: with BIND_ADDR set to one IP (not 0.0.0.0), redis
// and sentinel listen only there and the node still reaches them, passes,
// and answers health (the reliability suite found it dialled 127.0.0.1).
func TestBindToOneAddress(t *testing.T) {
	c := nodes.New(t, "BIND_ADDR=127.0.0.2", "ADVERTISE_ADDR=127.0.0.2")
	n := c.AddNode().Start()
	top := c.WaitTopology(30*time.Second, "", 0, 1)
	if top.Masters[0][:10] != "127.0.0.2:" {
		t.Fatalf("master registered as %s, want 127.0.0.2:<port>", top.Masters[0])
	}
	if out, code := runCLI(t, n, "health"); code != 0 {
		t.Fatalf("health exited %d: %s", code, out)
	}
}
