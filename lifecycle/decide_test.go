package lifecycle

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

func info(pairs ...string) redisnode.Info {
	i := redisnode.Info{"loading": "0", "aof_last_write_status": "ok", "rdb_last_bgsave_status": "ok"}
	for k := 0; k+1 < len(pairs); k += 2 {
		i[pairs[k]] = pairs[k+1]
	}
	return i
}

func TestDecide(t *testing.T) {
	const self = "10.0.0.1:6379"
	master := info("role", "master")
	replica := info("role", "slave", "master_host", "10.0.0.2", "master_port", "6379", "master_link_status", "up")
	three := []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"}
	two := three[1:]
	tests := []struct {
		name    string
		obs     Observation
		service string
		pass    bool
		reason  string
		fence   bool
	}{
		{"master confirmed", Observation{Info: master, SentinelMaster: self, SentinelOK: true},
			registry.ServiceMaster, true, "this node is the master", false},
		{"master while another still passes in Consul", Observation{Info: master, SentinelMaster: self, SentinelOK: true, OtherMaster: "10.0.0.2:6379"},
			registry.ServiceMaster, false, "Consul still lists 10.0.0.2:6379 as a passing master", false},
		{"master the sentinels do not name", Observation{Info: master, SentinelMaster: "10.0.0.2:6379", SentinelOK: true},
			registry.ServiceReplica, false, "majority of sentinels name 10.0.0.2:6379", true},
		{"master the sentinels are failing over", Observation{Info: master, SentinelMaster: self, SentinelOK: true,
			SentinelAlarms: []string{"10.0.0.3:26379: o_down,failover_in_progress"}},
			registry.ServiceMaster, false, "failing this master over (10.0.0.3:26379: o_down,failover_in_progress); writes are fenced", true},
		{"master a sentinel announced failing over", Observation{Info: master, SentinelMaster: self, SentinelOK: true,
			EventAlarms: []string{"10.0.0.3:26379: +try-failover"}},
			registry.ServiceMaster, false, "a sentinel has started failing this master over (10.0.0.3:26379: +try-failover); writes are fenced", true},
		{"failover event while no sentinel majority answers", Observation{Info: master, SentinelErr: errors.New("1 of 3 answered"), SentinelOK: true,
			EventAlarms: []string{"10.0.0.3:26379: +failover-state-send-slaveof-noone"}},
			registry.ServiceMaster, false, "started failing this master over", true},
		{"master being handed over by a planned failover", Observation{Info: master, SentinelMaster: self, SentinelOK: true,
			Planned: "redis-autopilot failover run by host pid 7"},
			registry.ServiceMaster, false, "a planned failover (redis-autopilot failover run by host pid 7) is handing this master over; writes are fenced", true},
		{"planned failover while Consul does not answer", Observation{Info: master, SentinelOK: true, Planned: "x", ConsulErr: errors.New("refused")},
			registry.ServiceMaster, false, "planned failover", true},
		{"a planned failover does not fence a replica", Observation{Info: replica, SentinelOK: true, Sentinels: three, PromotableBy: two, Planned: "x", EventAlarms: []string{"s: +try-failover"}},
			registry.ServiceReplica, true, "replica of 10.0.0.2:6379", false},
		{"master without a sentinel majority", Observation{Info: master, SentinelErr: errors.New("1 of 3 answered"), SentinelOK: true},
			registry.ServiceMaster, false, "no majority of sentinels confirms it: 1 of 3 answered", false},
		{"master with a failed AOF write", Observation{Info: info("role", "master", "aof_last_write_status", "err"), SentinelMaster: self, SentinelOK: true},
			registry.ServiceMaster, false, "the last AOF write failed", false},
		{"master still loading", Observation{Info: info("role", "master", "loading", "1"), SentinelMaster: self, SentinelOK: true},
			registry.ServiceMaster, false, "loading", false},
		{"replica with its link up", Observation{Info: replica, SentinelOK: true, Sentinels: three, PromotableBy: two},
			registry.ServiceReplica, true, "replica of 10.0.0.2:6379 with its link up, and a majority of the sentinels could promote it", false},
		{"replica the sentinels do not know yet", Observation{Info: replica, SentinelOK: true, Sentinels: three, SentinelMaster: "10.0.0.2:6379"},
			registry.ServiceReplica, false, "does not pass until a majority of the sentinels could promote it: 0 of 3 list it as a connected replica of 10.0.0.2:6379", false},
		{"replica only a minority could promote", Observation{Info: replica, SentinelOK: true, Sentinels: three, PromotableBy: three[:1]},
			registry.ServiceReplica, false, "1 of 3 list it", false},
		{"replica with no sentinel registered", Observation{Info: replica, SentinelOK: true},
			registry.ServiceReplica, false, "0 of 0 list it", false},
		{"replica promotable by every sentinel", Observation{Info: replica, SentinelOK: true, Sentinels: two, PromotableBy: two},
			registry.ServiceReplica, true, "a majority of the sentinels could promote it", false},
		{"replica with its link down", Observation{Info: info("role", "slave", "master_host", "10.0.0.2", "master_port", "6379", "master_link_status", "down"), SentinelOK: true},
			registry.ServiceReplica, false, "master_link_status", false},
		{"replica with a failed save", Observation{Info: info("role", "slave", "master_host", "h", "master_port", "1", "master_link_status", "up", "rdb_last_bgsave_status", "err"), SentinelOK: true},
			registry.ServiceReplica, false, "rdb_last_bgsave_status:err", false},
		{"redis down keeps the registration and fails", Observation{InfoErr: errors.New("connection refused"), Registered: registry.ServiceMaster},
			registry.ServiceMaster, false, "redis does not answer", false},
		{"Consul does not answer before the sentinels are asked", Observation{Info: master, SentinelOK: true,
			ConsulErr: errors.New("list the local agent's services: connection refused")},
			registry.ServiceMaster, false, "Consul does not answer, so the sentinels could not be asked: list the local agent's services: connection refused", false},
		{"Consul does not answer after the sentinels confirm this master", Observation{Info: master, SentinelMaster: self, SentinelAsked: true, SentinelOK: true,
			ConsulErr: errors.New("list instances of service redis: timeout")},
			registry.ServiceMaster, false, "Consul does not answer: list instances of service redis: timeout", false},
		{"Consul does not answer on a healthy replica", Observation{Info: replica, SentinelOK: true, ConsulErr: errors.New("refused")},
			registry.ServiceReplica, false, "Consul does not answer, so the sentinels could not be asked: refused", false},
		{"Consul does not answer while a failover event fences", Observation{Info: master, SentinelOK: true, ConsulErr: errors.New("refused"),
			EventAlarms: []string{"10.0.0.3:26379: +try-failover"}},
			registry.ServiceMaster, false, "writes are fenced, and it is not advertised as master; Consul does not answer", true},
		{"Consul and redis do not answer", Observation{InfoErr: errors.New("connection refused"), ConsulErr: errors.New("refused")},
			registry.ServiceReplica, false, "redis does not answer, so its check is failing: connection refused; Consul does not answer", false},
		{"sentinel down is said", Observation{Info: replica, SentinelOK: false, Sentinels: three, PromotableBy: two},
			registry.ServiceReplica, true, "the local sentinel does not answer", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.obs.Self = self
			d := Decide(tc.obs)
			if d.Service != tc.service || d.Pass != tc.pass {
				t.Errorf("Decide = service %q pass %v, want %q %v (reason %q)", d.Service, d.Pass, tc.service, tc.pass, d.Reason)
			}
			if d.Fence != tc.fence {
				t.Errorf("Fence = %v, want %v (reason %q)", d.Fence, tc.fence, d.Reason)
			}
			if !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", d.Reason, tc.reason)
			}
			if strings.Contains(d.Reason, "<nil>") {
				t.Errorf("reason %q says <nil>", d.Reason)
			}
			if d.SentinelPass != tc.obs.SentinelOK {
				t.Errorf("SentinelPass = %v, want %v", d.SentinelPass, tc.obs.SentinelOK)
			}
		})
	}
}

func TestDecideMarksTheODownMaster(t *testing.T) {
	const self = "10.0.0.1:6379"
	replica := info("role", "slave", "master_host", "10.0.0.2", "master_port", "6379", "master_link_status", "down")
	listed := []registry.Instance{{ID: "redis-10.0.0.2-6379", Node: "n2", Address: "10.0.0.2", Port: 6379}}
	tests := []struct {
		name string
		obs  Observation
		mark bool
	}{
		{"replica whose sentinel flags the master o_down", Observation{Info: replica, ODownMaster: "10.0.0.2:6379", ODownListed: listed}, true},
		{"already critical in Consul", Observation{Info: replica, ODownMaster: "10.0.0.2:6379"}, false},
		{"no o_down", Observation{Info: replica, ODownListed: listed}, false},
		{"o_down names this node", Observation{Info: replica, ODownMaster: self, ODownListed: listed}, false},
		{"a master does not mark", Observation{Info: info("role", "master"), SentinelMaster: self, ODownMaster: "10.0.0.2:6379", ODownListed: listed}, false},
		{"redis down does not mark", Observation{InfoErr: errors.New("refused"), ODownMaster: "10.0.0.2:6379", ODownListed: listed}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.obs.Self = self
			d := Decide(tc.obs)
			if got := len(d.MarkDown) > 0; got != tc.mark {
				t.Fatalf("MarkDown = %v, want marked %v (reason %q)", d.MarkDown, tc.mark, d.Reason)
			}
			if !tc.mark {
				return
			}
			if d.MarkDown[0].ID != listed[0].ID || !strings.Contains(d.MarkDownNote, "o_down") {
				t.Errorf("MarkDown = %v note %q", d.MarkDown, d.MarkDownNote)
			}
			if !strings.Contains(d.Reason, "the local sentinel flags the master 10.0.0.2:6379 o_down, so its redis check is marked critical") {
				t.Errorf("reason %q does not say why it marks", d.Reason)
			}
		})
	}
}

func TestDecideResyncsACheckAnotherNodeMarked(t *testing.T) {
	const self = "10.0.0.1:6379"
	for _, tc := range []struct {
		name   string
		obs    Observation
		resync bool
	}{
		{"passing master marked critical", Observation{Info: info("role", "master"), SentinelMaster: self, SentinelOK: true, MarkedCritical: true}, true},
		{"failing master stays failed", Observation{Info: info("role", "master"), SentinelErr: errors.New("no majority"), SentinelOK: true, MarkedCritical: true}, false},
		{"passing master not marked", Observation{Info: info("role", "master"), SentinelMaster: self, SentinelOK: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.obs.Self = self
			d := Decide(tc.obs)
			if d.Resync != tc.resync {
				t.Fatalf("Resync = %v, want %v (reason %q)", d.Resync, tc.resync, d.Reason)
			}
			if tc.resync && !strings.Contains(d.Reason, "another node marked its check critical") {
				t.Errorf("reason %q does not say so", d.Reason)
			}
		})
	}
}

// TestDecideRepointsAStaleMasterNoSentinelKnows: a node whose redis
// reports role master while a majority of the sentinels name another, and
// none knows it, becomes that master's replica once that has held for
// RepointAfter; each condition failing alone keeps it fenced, not
// re-pointed, and says so.
func TestDecideRepointsAStaleMasterNoSentinelKnows(t *testing.T) {
	const self, x = "10.0.0.1:6379", "10.0.0.2:6379"
	at := time.Date(2026, 11, 28, 21, 30, 20, 0, time.UTC)
	listings := func() []SelfListing {
		return []SelfListing{{"10.0.0.1:26379", true, true, false}, {"10.0.0.2:26379", true, true, false}, {"10.0.0.3:26379", true, true, false}}
	}
	forgotten := func() Observation {
		return Observation{Self: self, At: at, Info: info("role", "master"), SentinelMaster: x, SentinelAsked: true, SentinelOK: true,
			Sentinels: []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"}, SelfListings: listings(),
			NamedMasterListed: true, ForgottenFor: x, ForgottenSince: at.Add(-20 * time.Second), RepointAfter: 15 * time.Second}
	}
	tests := []struct {
		name      string
		change    func(o *Observation)
		repoint   bool
		forgotten string // Decision.Forgotten: "" stops the count
		reason    string
	}{
		{"forgotten for longer than the grace", func(*Observation) {}, true, x,
			"redis reports role master but a majority of sentinels name 10.0.0.2:6379 and none knows this node; it has been so for 20s, so it becomes 10.0.0.2:6379's replica"},
		{"a sentinel failing its check that does not answer is not waited for", func(o *Observation) { o.SelfListings[2] = SelfListing{Sentinel: "10.0.0.3:26379"} }, true, x,
			"it becomes 10.0.0.2:6379's replica"},
		{"redis reports role replica", func(o *Observation) {
			o.Info = info("role", "slave", "master_host", "10.0.0.2", "master_port", "6379", "master_link_status", "up")
		}, false, "", "this node is a replica of 10.0.0.2:6379"},
		{"redis does not answer: the count goes on", func(o *Observation) { o.InfoErr = errors.New("refused") }, false, x, "redis does not answer"},
		{"redis does not answer and the majority names this node", func(o *Observation) { o.InfoErr, o.SentinelMaster = errors.New("refused"), self }, false, "", "redis does not answer"},
		{"redis answers without a role", func(o *Observation) { o.Info = info() }, false, "", "INFO without a role"},
		{"the majority names this node", func(o *Observation) { o.SentinelMaster = self }, false, "", "this node is the master"},
		{"no majority: the count goes on", func(o *Observation) { o.SentinelMaster, o.SentinelErr = "", errors.New("1 of 3 answered") }, false, x,
			"no majority of sentinels confirms it"},
		{"a sentinel lists it as the new master's replica", func(o *Observation) { o.SelfListings[1].Lists = true }, false, "",
			"majority of sentinels name 10.0.0.2:6379; writes are fenced, so this node is not advertised as master; it is not re-pointed while a sentinel knows this node (10.0.0.2:26379)"},
		{"a sentinel that does not answer lists it", func(o *Observation) { o.SelfListings[1] = SelfListing{Sentinel: "10.0.0.2:26379", Lists: true} }, false, "",
			"it is not re-pointed while a sentinel knows this node (10.0.0.2:26379)"},
		{"a passing sentinel did not answer: unknown", func(o *Observation) { o.SelfListings[2].Read = false }, false, x,
			"whether a sentinel still knows this node is unknown (10.0.0.3:26379 did not answer with its replicas), so it is not re-pointed"},
		{"no sentinel was read", func(o *Observation) { o.SelfListings = nil }, false, x, "is unknown ((none) did not answer"},
		{"Consul does not list the new master as passing: the count goes on", func(o *Observation) { o.NamedMasterListed = false }, false, x,
			"Consul does not list 10.0.0.2:6379 as its one passing redis, so it is not re-pointed"},
		{"the new master does not answer as master", func(o *Observation) { o.NamedMasterErr = errors.New("10.0.0.2:6379 reports role slave") }, false, x,
			"10.0.0.2:6379 does not answer as master (10.0.0.2:6379 reports role slave), so it is not re-pointed"},
		{"a planned failover hands it over", func(o *Observation) { o.Planned = "redis-autopilot failover run by h" }, false, "",
			"a failover of this node is under way, so it is not re-pointed"},
		{"a sentinel announced failing it over", func(o *Observation) { o.EventAlarms = []string{"10.0.0.3:26379: +try-failover"} }, false, "",
			"a failover of this node is under way"},
		{"a sentinel flags it o_down", func(o *Observation) { o.SentinelAlarms = []string{"10.0.0.3:26379: o_down"} }, false, "",
			"a failover of this node is under way"},
		{"forgotten for less than the grace", func(o *Observation) { o.ForgottenSince = at.Add(-10 * time.Second) }, false, x,
			"no sentinel knows this node, so none will re-point it: it becomes 10.0.0.2:6379's replica once that has held for 15s (seen since 21:30:10)"},
		{"first seen: the count starts", func(o *Observation) { o.ForgottenFor, o.ForgottenSince = "", time.Time{} }, false, x, "(seen since 21:30:20)"},
		{"counted for another master: it starts again", func(o *Observation) { o.ForgottenFor = "10.0.0.3:6379" }, false, x, "(seen since 21:30:20)"},
		{"a longer grace from down-after", func(o *Observation) { o.RepointAfter = repointGrace(15 * time.Second) }, false, x, "once that has held for 30s"},
		{"Consul does not answer: the count goes on", func(o *Observation) { o.ConsulErr = errors.New("refused") }, false, x, "Consul does not answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := forgotten()
			tc.change(&o)
			d := Decide(o)
			checkRepoint(t, d, x, tc.repoint, tc.forgotten, tc.reason)
			if o.Info.Role() == redisnode.RoleMaster && o.InfoErr == nil && o.SentinelMaster == x && !d.Fence {
				t.Errorf("a master the sentinels replaced is not fenced (reason %q)", d.Reason)
			}
			if d.Pass && d.Service == registry.ServiceMaster && o.SentinelMaster != self {
				t.Errorf("passes as master: %q", d.Reason)
			}
		})
	}
}

// TestDecideRepointsAReplicaNoSentinelKnows: a replica that follows
// another node than the master a majority of the sentinels name, and that
// none of them knows (it joined a moment before a failover, so its leader
// did not re-point it), becomes that master's replica on the same
// conditions as a stale master.
func TestDecideRepointsAReplicaNoSentinelKnows(t *testing.T) {
	const self, x, old = "10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.9:6379"
	at := time.Date(2026, 11, 29, 0, 36, 30, 0, time.UTC)
	lost := func() Observation {
		return Observation{Self: self, At: at, SentinelMaster: x, SentinelAsked: true, SentinelOK: true,
			Info:      info("role", "slave", "master_host", "10.0.0.9", "master_port", "6379", "master_link_status", "down"),
			Sentinels: []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
			SelfListings: []SelfListing{{"10.0.0.1:26379", true, true, false}, {"10.0.0.2:26379", true, true, false},
				{"10.0.0.3:26379", true, true, false}},
			NamedMasterListed: true, ForgottenFor: x, ForgottenSince: at.Add(-20 * time.Second), RepointAfter: 15 * time.Second}
	}
	tests := []struct {
		name      string
		change    func(o *Observation)
		repoint   bool
		forgotten string
		reason    string
	}{
		{"following a dead old master for longer than the grace", func(*Observation) {}, true, x,
			"redis is a replica of 10.0.0.9:6379 but a majority of sentinels name 10.0.0.2:6379 and none knows this node; it has been so for 20s, so it becomes 10.0.0.2:6379's replica"},
		{"following the old master, now a replica itself, link up", func(o *Observation) {
			o.Info = info("role", "slave", "master_host", "10.0.0.9", "master_port", "6379", "master_link_status", "up")
		}, true, x, "so it becomes 10.0.0.2:6379's replica"},
		{"for less than the grace", func(o *Observation) { o.ForgottenSince = at.Add(-10 * time.Second) }, false, x,
			"this node is a replica of 10.0.0.9:6379 but unhealthy: the link to master 10.0.0.9:6379 is down (master_link_status); no sentinel knows this node, so none will re-point it: it becomes 10.0.0.2:6379's replica once that has held for 15s (seen since 00:36:20)"},
		{"a sentinel lists it: it re-points it itself", func(o *Observation) { o.SelfListings[0].Lists = true }, false, "",
			"it is not re-pointed while a sentinel knows this node (10.0.0.1:26379)"},
		{"it follows the master the sentinels name", func(o *Observation) {
			o.Info = info("role", "slave", "master_host", "10.0.0.2", "master_port", "6379", "master_link_status", "down")
		}, false, "", "this node is a replica of 10.0.0.2:6379 but unhealthy"},
		{"it follows a third node: the count goes on", func(o *Observation) {
			o.Info = info("role", "slave", "master_host", "10.0.0.3", "master_port", "6379", "master_link_status", "down")
		}, true, x, "redis is a replica of 10.0.0.3:6379 but a majority"},
		{"redis does not answer: the count goes on", func(o *Observation) { o.InfoErr = errors.New("refused") }, false, x, "redis does not answer"},
		{"no majority: not decided, the count goes on", func(o *Observation) { o.SentinelMaster, o.SentinelErr = "", errors.New("1 of 3 answered") }, false, x,
			"this node is a replica of 10.0.0.9:6379 but unhealthy"},
		{"the new master does not answer as master", func(o *Observation) { o.NamedMasterErr = errors.New("refused") }, false, x,
			"10.0.0.2:6379 does not answer as master (refused), so it is not re-pointed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := lost()
			tc.change(&o)
			d := Decide(o)
			checkRepoint(t, d, x, tc.repoint, tc.forgotten, tc.reason)
			if d.Fence || d.Service != registry.ServiceReplica {
				t.Errorf("fence %v, service %s: a replica is registered as one and never fenced", d.Fence, d.Service)
			}
			if d.Pass && follows(o.Info) != x {
				t.Errorf("a replica of another node than the master the sentinels name passes: %q", d.Reason)
			}
		})
	}
}

// checkRepoint checks that d re-points to x or not, counts the time
// forgotten for forgotten ("" stops the count), and says reason.
func checkRepoint(t *testing.T, d Decision, x string, repoint bool, forgotten, reason string) {
	t.Helper()
	if got := d.Repoint != ""; got != repoint || (got && d.Repoint != x) {
		t.Errorf("Repoint = %q, want re-pointed %v (reason %q)", d.Repoint, repoint, d.Reason)
	}
	if d.Forgotten != forgotten {
		t.Errorf("Forgotten = %q, want %q (reason %q)", d.Forgotten, forgotten, d.Reason)
	}
	if !strings.Contains(d.Reason, reason) {
		t.Errorf("reason %q does not say %q", d.Reason, reason)
	}
}

func TestRepointGrace(t *testing.T) {
	for downAfter, want := range map[time.Duration]time.Duration{
		2 * time.Second: 15 * time.Second, 5 * time.Second: 15 * time.Second, 10 * time.Second: 20 * time.Second,
	} {
		if got := repointGrace(downAfter); got != want {
			t.Errorf("repointGrace(%s) = %s, want %s", downAfter, got, want)
		}
	}
}
