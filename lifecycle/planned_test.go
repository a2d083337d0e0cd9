package lifecycle

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestPlannedFailoverKeyFencesOnlyItsMaster: the node honours a held
// registry.KeyFailoverLock that names it, for at most maxPlannedFence, and a
// change of holder or its release asks for a tick at once.
func TestPlannedFailoverKeyFencesOnlyItsMaster(t *testing.T) {
	const self = "10.0.0.1:6379"
	n := &Node{self: self, log: hclog.NewNullLogger()}
	req := PlannedRequest{Master: self, By: "host pid 1"}
	if !n.setPlanned(true, req, "s1") {
		t.Fatal("a new planned failover did not ask for a tick")
	}
	if got := n.plannedFor(); got != "redis-autopilot failover run by host pid 1" {
		t.Errorf("plannedFor = %q", got)
	}
	if n.setPlanned(true, req, "s1") {
		t.Error("the same holder seen again asked for a tick")
	}
	n.planned.since = time.Now().Add(-maxPlannedFence - time.Second)
	if got := n.plannedFor(); got != "" {
		t.Errorf("a request older than %s still fences: %q", maxPlannedFence, got)
	}
	if !n.setPlanned(true, PlannedRequest{Master: "10.0.0.2:6379"}, "s2") || n.plannedFor() != "" {
		t.Error("a planned failover of another master fences this one, or did not tick")
	}
	if !n.setPlanned(false, PlannedRequest{}, "") || n.plannedFor() != "" {
		t.Error("the key let go of did not tick, or still fences")
	}
	if n.setPlanned(false, PlannedRequest{}, "") {
		t.Error("no key seen twice asked for a tick")
	}
}
