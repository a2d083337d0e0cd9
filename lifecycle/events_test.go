package lifecycle

import (
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// TestSentinelEventsRaiseAndEndTheAlarm feeds the events a failover's
// leader publishes, as Sentinel formats them, to a node: the first event
// about this node's entry raises an alarm the next observation carries,
// events about other masters or other names do not, and the failover's
// end, an abort or +switch-master away from this node clear it.
func TestSentinelEventsRaiseAndEndTheAlarm(t *testing.T) {
	const self = "10.0.0.1:6379"
	tests := []struct {
		name   string
		events [][2]string // channel, payload
		alarms string      // what currentEventAlarms joins to
		kick   bool        // whether the last event asks for a tick
	}{
		{"try-failover of this master", [][2]string{{"+try-failover", "master mymaster 10.0.0.1 6379"}},
			"s1: +try-failover", true},
		{"send-slaveof-noone names the replica, @ this master", [][2]string{
			{"+failover-state-send-slaveof-noone", "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379"}},
			"s1: +failover-state-send-slaveof-noone", true},
		{"another master's failover", [][2]string{{"+try-failover", "master mymaster 10.0.0.9 6379"}}, "", false},
		{"another name", [][2]string{{"+try-failover", "master other 10.0.0.1 6379"}}, "", false},
		{"aborted", [][2]string{{"+try-failover", "master mymaster 10.0.0.1 6379"},
			{"-failover-abort-no-good-slave", "master mymaster 10.0.0.1 6379"}}, "", true},
		{"ended", [][2]string{{"+elected-leader", "master mymaster 10.0.0.1 6379"},
			{"+failover-end", "master mymaster 10.0.0.1 6379"}}, "", true},
		{"switched away", [][2]string{{"+elected-leader", "master mymaster 10.0.0.1 6379"},
			{"+switch-master", "mymaster 10.0.0.1 6379 10.0.0.2 6379"}}, "", true},
		{"an oversized payload is ignored", [][2]string{{"+try-failover", "master mymaster 10.0.0.1 6379 " + strings.Repeat("x", maxEventPayload)}}, "", false},
		{"sdown does not fence", [][2]string{{"+sdown", "master mymaster 10.0.0.1 6379"}}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &Node{self: self, log: hclog.NewNullLogger()}
			var kick bool
			for _, e := range tc.events {
				kick = n.sentinelEvent("s1", sentinel.ParseEvent(e[0], e[1]))
			}
			if got := strings.Join(n.currentEventAlarms(), "; "); got != tc.alarms {
				t.Errorf("alarms %q, want %q", got, tc.alarms)
			}
			if kick != tc.kick {
				t.Errorf("tick at once = %v, want %v", kick, tc.kick)
			}
		})
	}
}

// TestODownEventsNameTheDownMaster feeds the local sentinel's o_down
// events, as Sentinel formats them: +odown of the master names it until
// -odown or +switch-master; other names and instance types do not.
func TestODownEventsNameTheDownMaster(t *testing.T) {
	tests := []struct {
		name   string
		events [][2]string
		want   string
		at     bool // the last event just flagged the master
	}{
		{"odown", [][2]string{{"+odown", "master mymaster 10.0.0.2 6379 #quorum 2/2"}}, "10.0.0.2:6379", true},
		{"odown then -odown", [][2]string{{"+odown", "master mymaster 10.0.0.2 6379 #quorum 2/2"}, {"-odown", "master mymaster 10.0.0.2 6379"}}, "", false},
		{"odown then switch", [][2]string{{"+odown", "master mymaster 10.0.0.2 6379 #quorum 2/2"},
			{"+switch-master", "mymaster 10.0.0.2 6379 10.0.0.3 6379"}}, "", false},
		{"another name", [][2]string{{"+odown", "master other 10.0.0.2 6379 #quorum 2/2"}}, "", false},
		{"sdown is not odown", [][2]string{{"+sdown", "master mymaster 10.0.0.2 6379"}}, "", false},
		{"a replica's sdown", [][2]string{{"+odown", "master mymaster 10.0.0.2 6379 #quorum 2/2"},
			{"+sdown", "slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.2 6379"}}, "10.0.0.2:6379", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &Node{self: "10.0.0.1:6379", log: hclog.NewNullLogger()}
			var at bool
			for _, e := range tc.events {
				at = n.odownEvent(sentinel.ParseEvent(e[0], e[1]))
			}
			if got := n.odownMaster(); got != tc.want || at != tc.at {
				t.Errorf("odownMaster = %q (just flagged %v), want %q (%v)", got, at, tc.want, tc.at)
			}
		})
	}
}
