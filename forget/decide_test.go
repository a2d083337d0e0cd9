package forget

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/registry"
)

const (
	m  = "10.0.0.1:6379"
	r2 = "10.0.0.2:6379"
	r3 = "10.0.0.3:6379"
	rX = "10.0.0.9:6379" // departed replica
	s1 = "10.0.0.1:26379"
	s2 = "10.0.0.2:26379"
	s3 = "10.0.0.3:26379"
	sX = "10.0.0.9:26379" // departed sentinel
)

// healthy is a cluster of three live nodes whose sentinels all still list
// one departed node (rX, sX), gone for longer than the grace period.
func healthy() Observation {
	view := func(self string) View {
		v := View{Sentinel: self, Master: m, Flags: []string{"master"},
			Replicas: []Entry{{Addr: r2}, {Addr: r3}, {Addr: rX, Down: true}}}
		for _, s := range []string{s1, s2, s3} {
			if s != self {
				v.Sentinels = append(v.Sentinels, Entry{Addr: s})
			}
		}
		v.Sentinels = append(v.Sentinels, Entry{Addr: sX, Down: true})
		return v
	}
	return Observation{
		Grace:         5 * time.Minute,
		LiveSentinels: []string{s1, s2, s3},
		LiveReplicas:  []string{r2, r3},
		Views:         []View{view(s1), view(s2), view(s3)},
		Absent:        map[string]time.Duration{rX: 6 * time.Minute, sX: 6 * time.Minute, r2: 0, r3: 0, s1: 0, s2: 0, s3: 0},
		MasterRole:    "master",
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name     string
		change   func(o *Observation)
		action   Action
		sentinel string
		reason   string // a part of the reason
	}{
		{name: "departed entries on a healthy cluster: the first sentinel is reset alone",
			action: Reset, sentinel: s1, reason: "10.0.0.9:26379, 10.0.0.9:6379, which Consul has not had live for 5m0s or more"},
		{name: "the first sentinel is clean already: the next one is reset",
			change: func(o *Observation) {
				o.Views[0].Replicas = o.Views[0].Replicas[:2]
				o.Views[0].Sentinels = o.Views[0].Sentinels[:2]
			},
			action: Reset, sentinel: s2},
		{name: "dead agents' registrations are removed first",
			change: func(o *Observation) {
				o.Dead = []registry.Instance{{ID: "redis-sentinel-10.0.0.9-26379", Node: "n9"}}
			},
			action: Deregister, reason: "the Consul agents of redis-sentinel-10.0.0.9-26379 on n9 have been gone"},
		{name: "nothing departed", change: func(o *Observation) {
			for i := range o.Views {
				o.Views[i].Replicas = o.Views[i].Replicas[:2]
				o.Views[i].Sentinels = o.Views[i].Sentinels[:2]
			}
		}, action: Idle, reason: "no live sentinel lists a departed"},
		{name: "gone for less than the grace period", change: func(o *Observation) {
			o.Absent[rX], o.Absent[sX] = 4*time.Minute, time.Minute
		}, action: Idle},
		{name: "absent from Consul but not flagged down by Sentinel", change: func(o *Observation) {
			for i := range o.Views {
				o.Views[i].Replicas[2].Down = false
				o.Views[i].Sentinels[2].Down = false
			}
		}, action: Idle},
		{name: "a live sentinel does not answer", change: func(o *Observation) {
			o.Views[2] = View{Sentinel: s3, Err: errors.New("connection refused")}
		}, action: Wait, reason: "the live sentinel 10.0.0.3:26379 does not answer"},
		{name: "a sentinel flags the master o_down", change: func(o *Observation) {
			o.Views[1].Flags = []string{"master", "s_down", "o_down"}
		}, action: Wait, reason: "flags the master s_down,o_down, so a failover may be under way"},
		{name: "a failover is in progress", change: func(o *Observation) {
			o.Views[2].Flags = []string{"master", "failover_in_progress"}
		}, action: Wait, reason: "failover_in_progress"},
		{name: "no majority of the live sentinels agree", change: func(o *Observation) {
			o.Views[1].Master, o.Views[2].Master = r2, r3
		}, action: Wait, reason: "no majority of the 3 live sentinels agree"},
		{name: "two of four live sentinels are no majority", change: func(o *Observation) {
			o.LiveSentinels = append(o.LiveSentinels, "10.0.0.4:26379")
			o.Views[2].Master = r2
			o.Views = append(o.Views, View{Sentinel: "10.0.0.4:26379", Master: r2})
		}, action: Wait, reason: "no majority of the 4 live sentinels agree"},
		{name: "the master does not answer", change: func(o *Observation) {
			o.MasterErr = errors.New("i/o timeout")
		}, action: Wait, reason: "the master 10.0.0.1:6379 does not answer"},
		{name: "the master reports role slave", change: func(o *Observation) {
			o.MasterRole = "slave"
		}, action: Wait, reason: `reports role "slave"`},
		{name: "the master is fenced: a hand-over no sentinel flags yet", change: func(o *Observation) {
			o.MasterFenced = true
		}, action: Wait, reason: "the master 10.0.0.1:6379 refuses writes (its write fence is up)"},
		{name: "the live sentinels are no majority of the registered ones", change: func(o *Observation) {
			o.RegisteredSentinels = 6
		}, action: Wait, reason: "only 3 of the 6 sentinels registered in Consul name the master 10.0.0.1:6379"},
		{name: "three live sentinels of five registered are a majority", change: func(o *Observation) {
			o.RegisteredSentinels = 5
		}, action: Reset, sentinel: s1},
		{name: "dead agents' registrations are removed when the live sentinels naming the master are half the registered", change: func(o *Observation) {
			o.RegisteredSentinels = 6
			o.Dead = []registry.Instance{{ID: "redis-sentinel-10.0.0.9-26379", Node: "n9"}}
		}, action: Deregister, reason: "so their registrations are removed"},
		{name: "dead agents' registrations stay when they outnumber the sentinels naming the master", change: func(o *Observation) {
			o.RegisteredSentinels = 7
			o.Dead = []registry.Instance{{ID: "redis-sentinel-10.0.0.9-26379", Node: "n9"}}
		}, action: Wait, reason: "their registrations are not removed now: only 3 of the 7 sentinels registered in Consul name the master 10.0.0.1:6379, fewer than the others"},
		{name: "dead agents' registrations stay when only a minority of the live sentinels name the master", change: func(o *Observation) {
			o.RegisteredSentinels = 4
			o.Views[1].Master, o.Views[2].Master = r2, r3
			o.Dead = []registry.Instance{{ID: "redis-sentinel-10.0.0.9-26379", Node: "n9"}}
		}, action: Wait, reason: "no majority of the 3 live sentinels agree"},
		{name: "dead agents' registrations stay while the master is handed over", change: func(o *Observation) {
			o.MasterFenced = true
			o.Dead = []registry.Instance{{ID: "redis-sentinel-10.0.0.9-26379", Node: "n9"}}
		}, action: Wait, reason: "refuses writes"},
		{name: "a sentinel just reset has not rediscovered a replica", change: func(o *Observation) {
			o.Views[0].Replicas = []Entry{{Addr: r2}}
			o.Views[0].Sentinels = o.Views[0].Sentinels[:2]
		}, action: Wait, sentinel: s2, reason: "10.0.0.1:26379 does not know the live replica 10.0.0.3:6379 yet"},
		{name: "a sentinel just reset has not rediscovered a sentinel", change: func(o *Observation) {
			o.Views[0].Replicas = o.Views[0].Replicas[:2]
			o.Views[0].Sentinels = []Entry{{Addr: s2}}
		}, action: Wait, reason: "does not know the live sentinel 10.0.0.3:26379 yet"},
		{name: "a live replica it flags down counts as not known", change: func(o *Observation) {
			o.Views[2].Replicas[0].Down = true
		}, action: Wait, reason: "10.0.0.3:26379 does not know the live replica 10.0.0.2:6379"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := healthy()
			if tt.change != nil {
				tt.change(&o)
			}
			d := Decide(o)
			if d.Action != tt.action {
				t.Fatalf("action %s, want %s (reason: %s)", d.Action, tt.action, d.Reason)
			}
			if tt.sentinel != "" && d.Sentinel != tt.sentinel {
				t.Errorf("sentinel %s, want %s", d.Sentinel, tt.sentinel)
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("reason %q does not say %q", d.Reason, tt.reason)
			}
			if d.Reason == "" || strings.Count(d.Reason, ". ") > 0 {
				t.Errorf("reason %q is not one sentence", d.Reason)
			}
		})
	}
}

func TestDecideResetForgetsOnlyDeparted(t *testing.T) {
	d := Decide(healthy())
	if want := []string{sX, rX}; !reflect.DeepEqual(d.Departed, want) {
		t.Errorf("departed %v, want %v", d.Departed, want)
	}
	if want := []string{r2, r3}; !reflect.DeepEqual(d.Expect, want) {
		t.Errorf("expect %v, want %v", d.Expect, want)
	}
}

func TestMajority(t *testing.T) {
	views := []View{{Master: r2}, {Master: m}, {Master: m}, {Err: errors.New("down"), Master: r2}, {}}
	if got, n := Majority(views); got != m || n != 2 {
		t.Errorf("Majority = %s, %d; want %s, 2", got, n, m)
	}
}

// TestDecideChurnedNodesAreForgotten: three nodes replaced faster than the
// grace period leave three dead registrations beside three live nodes. The
// tick confirms a master only with a majority of every registered sentinel
// (3 of 6 is none), so unless the cleanup removes the dead, no master ever
// passes again (the reliability suite's node-churn, seed 634458288, when a
// strict majority of the registered was required). Half is enough to
// remove the dead; resets still need a majority, and come after.
func TestDecideChurnedNodesAreForgotten(t *testing.T) {
	for dead := 1; dead <= 4; dead++ {
		o := healthy()
		o.RegisteredSentinels = 3 + dead
		for i := range dead {
			node := fmt.Sprintf("n%d", 9+i)
			o.Dead = append(o.Dead,
				registry.Instance{ID: fmt.Sprintf("redis-sentinel-10.0.1.%d-26379", i), Node: node},
				registry.Instance{ID: fmt.Sprintf("redis-replica-10.0.1.%d-6379", i), Node: node})
		}
		d := Decide(o)
		want := Deregister
		if dead > 3 { // more dead than live: from here, a partition looks the same
			want = Wait
		}
		if d.Action != want {
			t.Errorf("%d dead of %d registered: %s, want %s (reason: %s)", dead, o.RegisteredSentinels, d.Action, want, d.Reason)
		}
		if want == Deregister && len(d.Remove) != 2*dead {
			t.Errorf("%d dead: removes %d registrations, want %d", dead, len(d.Remove), 2*dead)
		}
		// The same sentinels, the dead not past the grace period yet: no
		// reset before they are removed.
		o.Dead = nil
		if d := Decide(o); d.Action == Reset && dead >= 3 {
			t.Errorf("%d dead not removed yet, %d registered: reset %s (reason: %s)", dead, o.RegisteredSentinels, d.Sentinel, d.Reason)
		}
	}
}

// TestPresent: an address keeps from departing while it is registered on
// a live agent, its check failing or not (the soak's redis-crash-loop: the
// master's redis crash-looped for 20 s, the cleanup reset a sentinel that
// then forgot it, and it came back as a master no sentinel knew, fenced
// for good).
func TestPresent(t *testing.T) {
	for _, c := range []struct {
		in   registry.Instance
		want bool
	}{
		{registry.Instance{Status: api.HealthPassing, AgentStatus: api.HealthPassing}, true},
		{registry.Instance{Status: api.HealthCritical, TTLStatus: api.HealthCritical, AgentStatus: api.HealthPassing}, true},
		{registry.Instance{Status: api.HealthCritical, TTLStatus: api.HealthPassing}, true}, // no serfHealth: an agent-less catalog entry
		{registry.Instance{Status: api.HealthCritical, TTLStatus: api.HealthPassing, AgentStatus: api.HealthCritical}, false},
	} {
		if got := present(c.in); got != c.want {
			t.Errorf("present(%+v) = %v, want %v", c.in, got, c.want)
		}
	}
}
