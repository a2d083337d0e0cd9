package lifecycle

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

type repointEvents struct {
	noEvents
	outcomes []string
}

func (e *repointEvents) Repointed(outcome string) { e.outcomes = append(e.outcomes, outcome) }

// forgottenMaster: this node's redis reports role master, fenced and
// registered as a failing redis-replica; the three registered sentinels
// name 10.0.0.2:6379, list only 10.0.0.3:6379 as its replica, and Consul
// lists 10.0.0.2:6379 as the passing redis, which answers as master.
func forgottenMaster(reg *fakeRegistry, p *fakePeers, _ *Node) {
	const x = "10.0.0.2:6379"
	reg.register(idReplica, idSentinel)
	p.info = info("role", "master")
	p.fence = fenceReplicas
	p.masters = map[string]bool{x: true}
	other := sentinel.Instance{IP: "10.0.0.3", Port: 6379, Flags: []string{"slave"}}
	p.view = sentinel.View{Master: x}
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		reg.instances[registry.ServiceSentinel] = append(reg.instances[registry.ServiceSentinel], registry.Instance{
			ID: "redis-sentinel-" + ip + "-26379", Node: "node" + ip, Address: ip, Port: 26379, Status: api.HealthPassing})
		p.view.Answers = append(p.view.Answers, sentinel.Answer{Sentinel: ip + ":26379", Master: x, Entry: x,
			Flags: []string{"master"}, Replicas: []sentinel.Instance{other}})
	}
	reg.instances[registry.ServiceMaster] = []registry.Instance{{ID: "redis-10.0.0.2-6379", Node: "node2",
		Address: "10.0.0.2", Port: 6379, Status: api.HealthPassing, TTLStatus: api.HealthPassing}}
}

// TestTickRepointsAStaleMasterNoSentinelKnows runs the re-point through
// Tick: observe reads what the sentinels and Consul say, the count of
// how long it held is kept between ticks, and apply makes redis a replica
// (REPLICAOF, then CONFIG REWRITE), counts it, and keeps the fence up.
func TestTickRepointsAStaleMasterNoSentinelKnows(t *testing.T) {
	const x = "10.0.0.2:6379"
	for _, tc := range []struct {
		name      string
		setup     func(reg *fakeRegistry, p *fakePeers, n *Node)
		since     time.Duration // forgotten since this long ago; 0: not counted yet
		repointed []string
		outcomes  []string
		counting  bool // forgottenFor is x after the tick
		reason    string
	}{
		{"forgotten longer than the grace", forgottenMaster, 20 * time.Second, []string{x}, []string{"done"}, true,
			"none knows this node; it has been so for 20s, so it becomes 10.0.0.2:6379's replica"},
		{"first seen", forgottenMaster, 0, nil, nil, true, "once that has held for 15s"},
		{"a sentinel lists it as a replica", and(forgottenMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.view.Answers[2].Replicas = append(p.view.Answers[2].Replicas, sentinel.Instance{IP: "10.0.0.1", Port: 6379, Flags: []string{"slave", "s_down"}})
		}), 20 * time.Second, nil, nil, false, "it is not re-pointed while a sentinel knows this node (10.0.0.3:26379)"},
		{"a sentinel still names it master", and(forgottenMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.view.Answers[0].Master, p.view.Answers[0].Entry = fakeSelf, fakeSelf
		}), 20 * time.Second, nil, nil, false, "it is not re-pointed while a sentinel knows this node (10.0.0.1:26379)"},
		{"a passing sentinel's replicas unread", and(forgottenMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.view.Answers[1].Replicas, p.view.Answers[1].ReplicasErr = nil, errors.New("i/o timeout")
		}), 20 * time.Second, nil, nil, true, "10.0.0.2:26379 did not answer with its replicas"},
		{"REPLICAOF fails", and(forgottenMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.replicaOfErr = errors.New("LOADING")
		}), 20 * time.Second, nil, []string{"failed"}, true, "so it becomes 10.0.0.2:6379's replica"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, p, ev, d := tickForgotten(t, tc.setup, x, tc.since)
			if !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", d.Reason, tc.reason)
			}
			if !slices.Equal(p.replicaOf, tc.repointed) || !slices.Equal(ev.outcomes, tc.outcomes) {
				t.Errorf("REPLICAOF %v counted %v, want %v counted %v", p.replicaOf, ev.outcomes, tc.repointed, tc.outcomes)
			}
			if want := len(tc.repointed); p.rewrites != want {
				t.Errorf("CONFIG REWRITE %d times, want %d", p.rewrites, want)
			}
			if !p.fenced() || d.Pass {
				t.Errorf("fenced %v, passing %v: a stale master stays fenced and failing until it reports role replica", p.fenced(), d.Pass)
			}
			if got := n.forgottenFor == x; got != tc.counting || (got && n.forgottenSince.IsZero()) {
				t.Errorf("forgotten for %q since %v, want counting %v", n.forgottenFor, n.forgottenSince, tc.counting)
			}
		})
	}
}

// TestTickRepointsAReplicaNoSentinelKnows: a replica that follows a dead
// old master, which none of the sentinels lists, is made a replica of the
// master they name once that has held for the grace, through Tick; it is
// never fenced.
func TestTickRepointsAReplicaNoSentinelKnows(t *testing.T) {
	const x = "10.0.0.2:6379"
	lostReplica := and(forgottenMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
		p.info = info("role", "slave", "master_host", "10.0.0.9", "master_port", "6379", "master_link_status", "down")
		p.fence = "0"
	})
	for _, tc := range []struct {
		name      string
		setup     func(reg *fakeRegistry, p *fakePeers, n *Node)
		since     time.Duration
		repointed []string
		reason    string
	}{
		{"longer than the grace", lostReplica, 20 * time.Second, []string{x},
			"redis is a replica of 10.0.0.9:6379 but a majority of sentinels name 10.0.0.2:6379 and none knows this node; it has been so for 20s"},
		{"first seen", lostReplica, 0, nil, "once that has held for 15s"},
		{"a sentinel lists it", and(lostReplica, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.view.Answers[1].Replicas = append(p.view.Answers[1].Replicas, sentinel.Instance{IP: "10.0.0.1", Port: 6379, Flags: []string{"slave"}})
		}), 20 * time.Second, nil, "it is not re-pointed while a sentinel knows this node (10.0.0.2:26379)"},
		{"it follows the named master", and(lostReplica, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.info = info("role", "slave", "master_host", "10.0.0.2", "master_port", "6379", "master_link_status", "down")
		}), 20 * time.Second, nil, "this node is a replica of 10.0.0.2:6379 but unhealthy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, p, ev, d := tickForgotten(t, tc.setup, x, tc.since)
			if !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", d.Reason, tc.reason)
			}
			if !slices.Equal(p.replicaOf, tc.repointed) || len(ev.outcomes) != len(tc.repointed) || p.rewrites != len(tc.repointed) {
				t.Errorf("REPLICAOF %v, counted %v, CONFIG REWRITE %d times; want REPLICAOF %v", p.replicaOf, ev.outcomes, p.rewrites, tc.repointed)
			}
			if p.fenced() || d.Pass {
				t.Errorf("fenced %v, passing %v: a replica of the wrong node is never fenced and never passes", p.fenced(), d.Pass)
			}
		})
	}
}

// tickForgotten runs one Tick on a node set up by setup, whose count of
// the time it has been forgotten for x started since ago (0: not yet).
func tickForgotten(t *testing.T, setup func(*fakeRegistry, *fakePeers, *Node), x string, since time.Duration) (*Node, *fakePeers, *repointEvents, Decision) {
	t.Helper()
	reg, p := newFakeRegistry(), &fakePeers{fence: "0"}
	n := newFakeNode(t, reg, p)
	ev := &repointEvents{}
	n.o.Events = ev
	setup(reg, p, n)
	if since > 0 {
		n.forgottenFor, n.forgottenSince = x, time.Now().Add(-since)
	}
	d, err := n.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n, p, ev, d
}
