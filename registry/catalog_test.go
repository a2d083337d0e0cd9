package registry

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestMarkCriticalOverridesADeadAgent: a service registered through a
// client agent that then dies keeps its passing status in the catalog;
// MarkCritical, through another agent, makes it critical at once.
func TestMarkCriticalOverridesADeadAgent(t *testing.T) {
	server := harness.StartConsul(t)
	agent := server.StartClientAgent(t)
	ctx := testCtx(t)
	dying := newRegistry(t, agent, Options{})
	s := Service{Name: "redis", Address: "127.0.0.9", Port: 6379, TTL: time.Hour}
	if err := dying.Register(ctx, s); err != nil {
		t.Fatal(err)
	}
	id := ServiceID("redis", "127.0.0.9", 6379)
	if err := dying.Pass(ctx, id, "ok"); err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, server, Options{})
	var in Instance
	harness.Eventually(t, 10*time.Second, func() error {
		ins, err := r.Instances(ctx, "redis", true)
		if err != nil || len(ins) != 1 {
			return fmt.Errorf("passing instances %v (%v)", ins, err)
		}
		in = ins[0]
		return nil
	})
	agent.Kill() // its services stay in the catalog as they were
	if err := r.MarkCritical(ctx, in, "dead"); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 5*time.Second, func() error {
		ins, err := r.Instances(ctx, "redis", false)
		if err != nil || len(ins) != 1 || ins[0].Status != api.HealthCritical {
			return fmt.Errorf("instances %+v (%v), want the one critical", ins, err)
		}
		return nil
	})
}
