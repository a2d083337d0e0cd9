package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

const lastMasterPut = "Put " + registry.KeyLastMaster + " " + fakeSelf

// staleMaster is another node's `redis`, still passing in the catalog.
var staleMaster = registry.Instance{ID: "redis-10.0.0.2-6379", Node: "node2", Address: "10.0.0.2", Port: 6379,
	Status: api.HealthPassing, TTLStatus: api.HealthPassing}

// tickCase is one Tick against the fakes: setup makes the world, then the
// decision, what was written to Consul (in order) and the fence are checked.
type tickCase struct {
	name   string
	setup  func(reg *fakeRegistry, p *fakePeers, n *Node)
	reason string // in the decision's reason
	pass   bool
	writes []string
	fenced bool
	err    string // in Tick's error; "" for none
}

// asMaster: this node's redis is a healthy master registered as `redis`,
// a majority of sentinels names it, and no other node is listed as redis.
func asMaster(reg *fakeRegistry, p *fakePeers, _ *Node) {
	reg.register(idMaster, idSentinel)
	p.info = info("role", "master")
	p.view = sentinel.View{Master: fakeSelf}
}

// asReplica: a healthy replica of 10.0.0.2:6379, registered as such,
// that the local sentinel (the only one registered) could promote.
func asReplica(reg *fakeRegistry, p *fakePeers, _ *Node) {
	reg.register(idReplica, idSentinel)
	p.info = info("role", "slave", "master_host", "10.0.0.2", "master_port", "6379", "master_link_status", "up")
	me := sentinel.Instance{IP: "10.0.0.1", Port: 6379, Flags: []string{"slave"},
		Fields: map[string]string{"last-ok-ping-reply": "100", "master-link-status": "ok"}}
	p.view = sentinel.View{Master: "10.0.0.2:6379", Answers: []sentinel.Answer{
		{Sentinel: fakeSelfSent, Master: "10.0.0.2:6379", Entry: "10.0.0.2:6379", Flags: []string{"master"}, Replicas: []sentinel.Instance{me}}}}
}

// odownMaster: the local sentinel flags the master 10.0.0.2:6379 o_down,
// and Consul still lists it as a passing redis.
func odownMaster(reg *fakeRegistry, p *fakePeers, _ *Node) {
	p.view.Answers[0].Flags = []string{"master", "o_down"}
	reg.instances[registry.ServiceMaster] = []registry.Instance{staleMaster}
}

func and(fs ...func(*fakeRegistry, *fakePeers, *Node)) func(*fakeRegistry, *fakePeers, *Node) {
	return func(reg *fakeRegistry, p *fakePeers, n *Node) {
		for _, f := range fs {
			f(reg, p, n)
		}
	}
}

func recordedAgo(d time.Duration) func(*fakeRegistry, *fakePeers, *Node) {
	return func(_ *fakeRegistry, _ *fakePeers, n *Node) { n.recordedMaster = time.Now().Add(-d) }
}

func failAt(line string) func(*fakeRegistry, *fakePeers, *Node) {
	return func(reg *fakeRegistry, _ *fakePeers, _ *Node) { reg.failAt = line }
}

func withStaleMaster(reg *fakeRegistry, _ *fakePeers, _ *Node) {
	reg.instances[registry.ServiceMaster] = []registry.Instance{staleMaster}
}

func alarmed(_ *fakeRegistry, _ *fakePeers, n *Node) {
	n.setEventAlarm("10.0.0.3:26379", "+try-failover")
}

func fencedBefore(_ *fakeRegistry, p *fakePeers, _ *Node) { p.fence = fenceReplicas }

// TestTickDecidesAndApplies runs every branch of Decide through Tick and
// checks what apply wrote to Consul, in order, including Consul failing
// half-way: a failed step stops apply, and nothing after it is written.
func TestTickDecidesAndApplies(t *testing.T) {
	passM, failM, passR, failR := "Pass "+idMaster, "Fail "+idMaster, "Pass "+idReplica, "Fail "+idReplica
	passS := "Pass " + idSentinel
	for _, tc := range append(masterCases(passM, failM, passS), otherCases(passM, failM, passR, failR, passS)...) {
		t.Run(tc.name, func(t *testing.T) {
			reg, p := newFakeRegistry(), &fakePeers{fence: "0"}
			n := newFakeNode(t, reg, p)
			tc.setup(reg, p, n)
			d, err := n.Tick(context.Background())
			if !strings.Contains(d.Reason, tc.reason) || d.Pass != tc.pass {
				t.Errorf("decision pass %v %q, want pass %v and %q", d.Pass, d.Reason, tc.pass, tc.reason)
			}
			if got, want := strings.Join(reg.Writes(), "\n"), strings.Join(tc.writes, "\n"); got != want {
				t.Errorf("writes:\n%s\nwant:\n%s", got, want)
			}
			if p.fenced() != tc.fenced {
				t.Errorf("fenced %v, want %v", p.fenced(), tc.fenced)
			}
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
			if st := n.Status(); st.Reason != d.Reason || st.Passing != (d.Pass && err == nil) {
				t.Errorf("status %q passing %v does not follow the decision", st.Reason, st.Passing)
			}
		})
	}
}

func masterCases(passM, failM, passS string) []tickCase {
	return []tickCase{
		{"master confirmed passes and records itself as the last master", asMaster,
			"this node is the master", true, []string{passM, lastMasterPut, passS}, false, ""},
		{"master recorded within the refresh does not write the key again", and(asMaster, recordedAgo(time.Second)),
			"this node is the master", true, []string{passM, passS}, false, ""},
		{"master recorded longer ago than the refresh writes it again", and(asMaster, recordedAgo(lastMasterRefresh+time.Second)),
			"this node is the master", true, []string{passM, lastMasterPut, passS}, false, ""},
		{"the fence is lifted once the sentinels name this node", and(asMaster, fencedBefore),
			"this node is the master", true, []string{passM, lastMasterPut, passS}, false, ""},
		{"master registered as replica moves to redis", and(asMaster, func(reg *fakeRegistry, _ *fakePeers, _ *Node) {
			delete(reg.agent, idMaster)
			reg.register(idReplica)
		}), "this node is the master", true,
			[]string{"Register " + idMaster, "Deregister " + idReplica, passM, lastMasterPut, passS}, false, ""},
		{"a stale master goes critical before this one passes", and(asMaster, withStaleMaster),
			"this node is the master", true, []string{"MarkCritical " + staleMaster.ID, passM, lastMasterPut, passS}, false, ""},
		{"a stale master that cannot be marked critical keeps this one from passing", and(asMaster, withStaleMaster, failAt("MarkCritical")),
			"this node is the master", true, []string{"MarkCritical " + staleMaster.ID + " (failed)"}, false,
			"mark the dead master 10.0.0.2:6379 critical before passing"},
		{"another passing master that answers: wait", and(asMaster, withStaleMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.masters = map[string]bool{"10.0.0.2:6379": true}
		}), "waiting for it to step down", false, []string{failM, passS}, false, ""},
		{"the sentinels name another master: fenced and registered as replica", and(asMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.view = sentinel.View{Master: "10.0.0.2:6379"}
		}), "a majority of sentinels name 10.0.0.2:6379", false,
			[]string{"Register " + idReplica, "Deregister " + idMaster, "Fail " + idReplica, passS}, true, ""},
		{"a planned failover fences", and(asMaster, func(_ *fakeRegistry, _ *fakePeers, n *Node) {
			n.setPlanned(true, PlannedRequest{Master: fakeSelf, By: "host pid 7"}, "s1")
		}), "a planned failover (redis-autopilot failover run by host pid 7)", false, []string{failM, passS}, true, ""},
		{"a failover event fences", and(asMaster, alarmed),
			"a sentinel has started failing this master over (10.0.0.3:26379: +try-failover)", false, []string{failM, passS}, true, ""},
		{"no sentinel majority: not advertised, not fenced", and(asMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.view, p.askErr = sentinel.View{}, errors.New("1 of 3 answered")
		}), "no majority of sentinels confirms it: 1 of 3 answered", false, []string{failM, passS}, false, ""},
		{"the sentinels flag this master o_down: fenced", and(asMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.view.Answers = []sentinel.Answer{{Sentinel: "10.0.0.3:26379", Master: fakeSelf, Entry: fakeSelf, Flags: []string{"master", "o_down"}}}
		}), "the sentinels are failing this master over (10.0.0.3:26379: o_down)", false, []string{failM, passS}, true, ""},
		{"a master another node marked critical is passed again at once", and(asMaster, func(reg *fakeRegistry, _ *fakePeers, _ *Node) {
			reg.catalog.Marked = map[string]bool{idMaster: true}
		}), "another node marked its check critical in the catalog, so it is passed again at once", true,
			[]string{failM, passM, lastMasterPut, passS}, false, ""},
		{"an unhealthy master fails its check", and(asMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.info = info("role", "master", "loading", "1")
		}), "this node is the master but unhealthy", false, []string{failM, passS}, false, ""},
		{"Consul failing before the sentinels: nothing written, the fence still decided", and(asMaster, alarmed, failAt("LocalServiceIDs")),
			"Consul does not answer, so the sentinels could not be asked: fake Consul refused", false, nil, true, "fake Consul refused"},
		{"Consul failing before the sentinels does not lift the fence", and(asMaster, fencedBefore, failAt("LocalNodeInCatalog")),
			"Consul does not answer, so the sentinels could not be asked", false, nil, true, "fake Consul refused"},
		{"Consul failing after the sentinels: nothing written, the fence lifted", and(asMaster, fencedBefore, failAt("Instances redis ")),
			"Consul does not answer: fake Consul refused", false, nil, false, "fake Consul refused"},
		{"registering as redis fails: the old registration stays", and(asMaster, func(reg *fakeRegistry, _ *fakePeers, _ *Node) {
			delete(reg.agent, idMaster)
			reg.register(idReplica)
		}, failAt("Register "+idMaster)), "this node is the master", true, []string{"Register " + idMaster + " (failed)"}, false, "fake Consul refused"},
		{"passing fails: the last master is not recorded", and(asMaster, failAt(passM)),
			"this node is the master", true, []string{passM + " (failed)"}, false, "fake Consul refused"},
		{"recording the last master fails: logged, the tick goes on", and(asMaster, failAt("Put")),
			"this node is the master", true, []string{passM, lastMasterPut + " (failed)", passS}, false, ""},
	}
}

func otherCases(passM, failM, passR, failR, passS string) []tickCase {
	lostRedis := func(reg *fakeRegistry, _ *fakePeers, _ *Node) { delete(reg.catalog.ServiceIDs, idReplica) }
	lostNode := func(reg *fakeRegistry, _ *fakePeers, _ *Node) {
		reg.catalog = registry.CatalogView{Node: "node1", ServiceIDs: map[string]bool{}}
	}
	lostBefore := func(_ *fakeRegistry, _ *fakePeers, n *Node) { n.catalogLost = true }
	return []tickCase{
		{"healthy replica passes", asReplica, "this node is a replica of 10.0.0.2:6379 with its link up", true, []string{passR, passS}, false, ""},
		{"a replica no sentinel could promote yet fails", and(asReplica, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.view.Answers[0].Replicas = nil
		}), "does not pass until a majority of the sentinels could promote it: 0 of 1", false, []string{failR, passS}, false, ""},
		{"a replica whose sentinel flags the master o_down marks it critical first", and(asReplica, odownMaster),
			"the local sentinel flags the master 10.0.0.2:6379 o_down, so its redis check is marked critical", true,
			[]string{"MarkCritical " + staleMaster.ID, passR, passS}, false, ""},
		{"the o_down master already critical is not marked again", and(asReplica, odownMaster, func(reg *fakeRegistry, _ *fakePeers, _ *Node) {
			in := staleMaster
			in.TTLStatus = api.HealthCritical
			reg.instances[registry.ServiceMaster] = []registry.Instance{in}
		}), "with its link up", true, []string{passR, passS}, false, ""},
		{"marking the o_down master fails: the tick stops there", and(asReplica, odownMaster, failAt("MarkCritical")),
			"o_down", true, []string{"MarkCritical " + staleMaster.ID + " (failed)"}, false, "mark the master the local sentinel flags o_down critical"},
		{"unhealthy replica fails", and(asReplica, func(_ *fakeRegistry, p *fakePeers, _ *Node) { p.info["master_link_status"] = "down" }),
			"but unhealthy", false, []string{failR, passS}, false, ""},
		{"redis down keeps its registration and fails it", and(asMaster, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.info, p.infoErr = nil, errors.New("connection refused")
		}), "redis does not answer, so its check is failing: connection refused", false, []string{failM, passS}, false, ""},
		{"INFO without a role fails", and(asReplica, func(_ *fakeRegistry, p *fakePeers, _ *Node) { delete(p.info, "role") }),
			"without a role", false, []string{failR, passS}, false, ""},
		{"the local sentinel down fails the sentinel's check", and(asReplica, func(_ *fakeRegistry, p *fakePeers, _ *Node) {
			p.pingErr = errors.New("refused")
		}), "the local sentinel does not answer", true, []string{passR, "Fail " + idSentinel}, false, ""},
		{"the agent lost the sentinel: registered again", and(asReplica, func(reg *fakeRegistry, _ *fakePeers, _ *Node) {
			delete(reg.agent, idSentinel)
			delete(reg.catalog.ServiceIDs, idSentinel)
		}), "with its link up", true, []string{passR, "Register " + idSentinel, passS}, false, ""},
		{"a service the catalog lacks once: nothing yet", and(asReplica, lostRedis),
			"with its link up", true, []string{passR, passS}, false, ""},
		{"a service the catalog lacks twice: registered again", and(asReplica, lostRedis, lostBefore),
			"with its link up", true, []string{"Deregister " + idReplica, "Register " + idReplica, passR, passS}, false, ""},
		{"the catalog lost the node: join and register everything again at once", and(asReplica, lostNode),
			"with its link up", true, []string{"Join 10.0.0.100", "Deregister " + idReplica, "Register " + idReplica,
				"Deregister " + idSentinel, "Register " + idSentinel, passR, passS}, false, ""},
		{"registering again fails half-way", and(asReplica, lostNode, failAt("Register "+idSentinel)),
			"with its link up", true, []string{"Join 10.0.0.100", "Deregister " + idReplica, "Register " + idReplica,
				"Deregister " + idSentinel, "Register " + idSentinel + " (failed)"}, false, "fake Consul refused"},
	}
}

// TestApplyMakesNoChoices gives apply decisions that Decide would not
// make from the observation: apply does what the decision says, no more.
func TestApplyMakesNoChoices(t *testing.T) {
	tests := []struct {
		name   string
		d      Decision
		writes []string
	}{
		{"no Register: the redis service is not touched although the agent lacks it",
			Decision{Service: registry.ServiceMaster, Pass: true, SentinelPass: true},
			[]string{"Pass " + idMaster, "Pass " + idSentinel}},
		{"Register without Deregister keeps the old one",
			Decision{Service: registry.ServiceReplica, SentinelPass: false, Changes: Changes{Register: true}},
			[]string{"Register " + idReplica, "Fail " + idReplica, "Fail " + idSentinel}},
		{"Rejoin without services to register again",
			Decision{Service: registry.ServiceReplica, Pass: true, SentinelPass: true, Changes: Changes{CatalogLost: true, Rejoin: true}},
			[]string{"Join 10.0.0.100", "Pass " + idReplica, "Pass " + idSentinel}},
		{"RecordLastMaster only for a passing master",
			Decision{Service: registry.ServiceMaster, Pass: false, SentinelPass: true, Changes: Changes{RecordLastMaster: true}},
			[]string{"Fail " + idMaster, "Pass " + idSentinel}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFakeRegistry()
			n := newFakeNode(t, reg, &fakePeers{})
			if err := n.apply(context.Background(), Observation{Registered: registry.ServiceMaster}, tc.d); err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(reg.Writes(), "\n"), strings.Join(tc.writes, "\n"); got != want {
				t.Errorf("writes:\n%s\nwant:\n%s", got, want)
			}
			if n.catalogLost != tc.d.CatalogLost {
				t.Errorf("catalogLost %v, want %v", n.catalogLost, tc.d.CatalogLost)
			}
		})
	}
}
