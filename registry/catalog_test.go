package registry

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestMarkCriticalOverridesADeadAgent: a service registered through a
// client agent that then dies keeps its passing TTL status in the catalog
// (critical only through serfHealth, once the servers notice, which a new
// agent on that node would lift); MarkCritical, through another agent,
// makes its TTL check critical at once.
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
		if err != nil || len(ins) != 1 || ins[0].TTLStatus != api.HealthPassing {
			return fmt.Errorf("passing instances %+v (%v), want one with its TTL check passing", ins, err)
		}
		in = ins[0]
		return nil
	})
	agent.Kill() // its services stay in the catalog as they were
	harness.Eventually(t, 30*time.Second, func() error {
		ins, err := r.Instances(ctx, "redis", false)
		if err != nil || len(ins) != 1 || ins[0].Status != api.HealthCritical || ins[0].TTLStatus != api.HealthPassing {
			return fmt.Errorf("instances %+v (%v), want the one critical through serfHealth, its TTL check passing", ins, err)
		}
		return nil
	})
	if err := r.MarkCritical(ctx, in, "dead"); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 5*time.Second, func() error {
		ins, err := r.Instances(ctx, "redis", false)
		if err != nil || len(ins) != 1 || ins[0].Status != api.HealthCritical || ins[0].TTLStatus != api.HealthCritical {
			return fmt.Errorf("instances %+v (%v), want the one critical, its TTL check too", ins, err)
		}
		return nil
	})
}

// TestLocalNodeInCatalog reads the servers' view of the local agent's
// node: its serfHealth and services, and a service the catalog lost (here
// removed behind the agent's back) while the agent still has it.
func TestLocalNodeInCatalog(t *testing.T) {
	server := harness.StartConsul(t)
	agent := server.StartClientAgent(t)
	ctx := testCtx(t)
	r := newRegistry(t, agent, Options{})
	s := Service{Name: "redis", Address: "127.0.0.9", Port: 6379, TTL: time.Hour}
	if err := r.Register(ctx, s); err != nil {
		t.Fatal(err)
	}
	id := ServiceID("redis", "127.0.0.9", 6379)
	var v CatalogView
	harness.Eventually(t, 10*time.Second, func() error {
		var err error
		if v, err = r.LocalNodeInCatalog(ctx); err != nil || !v.NodeRegistered || !v.ServiceIDs[id] || v.Node != agent.Node {
			return fmt.Errorf("view %+v (%v), want node %s registered with %s", v, err, agent.Node, id)
		}
		return nil
	})
	if _, err := server.Client.Catalog().Deregister(&api.CatalogDeregistration{Node: v.Node, ServiceID: id}, nil); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 5*time.Second, func() error {
		v, err := r.LocalNodeInCatalog(ctx)
		if err != nil || v.ServiceIDs[id] || !v.NodeRegistered {
			return fmt.Errorf("view %+v (%v), want the node without %s", v, err, id)
		}
		return nil
	})
	if ids, err := r.LocalServiceIDs(ctx); err != nil || !ids[id] {
		t.Fatalf("the agent's own view %v (%v) should still have %s", ids, err, id)
	}
}
