package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// Following every sentinel's events: a failover of this node's entry is
// announced by its leader only (+try-failover, +elected-leader,
// +failover-state-select-slave, +failover-state-send-slaveof-noone), a
// few hundred milliseconds before the leader promotes a replica. From then
// on, writes this master acknowledges with WAIT (its other replicas still
// follow it) are lost when Sentinel re-points them. The master's node
// fences at the first of these events, from whichever sentinel: a raw
// SENTINEL FAILOVER may go to any of them.

// failoverStarts are the events a failover's leader publishes, in order,
// before it promotes a replica; failoverEnds end the alarm they raise.
var (
	failoverStarts = map[string]bool{
		"+try-failover": true, "+elected-leader": true, "+failover-state-select-slave": true,
		"+selected-slave": true, "+failover-state-send-slaveof-noone": true,
		"+failover-state-wait-promotion": true, "+promoted-slave": true, "+failover-state-reconf-slaves": true,
	}
	failoverEnds = map[string]bool{"+failover-end": true, "+failover-end-for-timeout": true}
)

const (
	// maxFollowed bounds the sentinels a node subscribes to: the list
	// comes from Consul, which anyone with write access can fill.
	maxFollowed = 32
	// maxEventPayload bounds the events kept: Sentinel's are one line.
	maxEventPayload = 1024
	// eventAlarmTTL is how long a failover event alone keeps the fence
	// up: long enough for the ticks to see the failover in the sentinels'
	// flags and then their majority; an abort missed while disconnected
	// refuses writes for no longer.
	eventAlarmTTL = 10 * time.Second
	// followBackoffMax is the longest pause between subscription attempts
	// to a sentinel that does not answer.
	followBackoffMax = 10 * time.Second
)

// eventAlarm is the last failover event one sentinel published about
// this node's entry.
type eventAlarm struct {
	typ string
	at  time.Time
}

// watchSentinel subscribes to the local sentinel's events: one log line
// each, and a tick at once on every one (the leader of a failover reports
// +switch-master only when it ends, seconds after +promoted-slave).
// Events missed while disconnected are lost: the tick after a reconnect
// re-reads.
func (n *Node) watchSentinel(ctx context.Context) {
	events, err := n.sent.Subscribe(ctx)
	if err != nil {
		n.log.Warn("subscribe to sentinel events; the registry follows failovers at the next poll only", "error", err)
		return
	}
	go func() {
		defer n.recoverPeer("local sentinel events")
		for e := range events {
			if e.Type == sentinel.EventFailed {
				n.log.Error("sentinel events ended; failovers are seen at the next poll only", "sentinel", n.selfSent, "error", e.Payload)
				continue
			}
			n.log.Info("sentinel event", "event", e.Type, "detail", e.Payload)
			n.o.Events.SentinelEvent(e.Type)
			if n.sentinelEvent(n.selfSent, e) && n.alarmed() {
				n.fenceAtOnce(ctx)
			}
			if n.odownEvent(e) {
				n.markDownAtOnce(ctx)
			}
			n.Kick()
		}
	}()
}

// followSentinels keeps one subscription to each of the other sentinels
// in addrs (at most maxFollowed) and ends those no longer listed. It is
// called by every tick with the sentinels registered in Consul.
func (n *Node) followSentinels(ctx context.Context, addrs []string) {
	want := map[string]bool{}
	for _, a := range addrs {
		if a != n.selfSent && len(want) < maxFollowed {
			want[a] = true
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.followed == nil {
		n.followed = map[string]context.CancelFunc{}
	}
	for a, cancel := range n.followed {
		if !want[a] {
			cancel()
			delete(n.followed, a)
			delete(n.eventAlarms, a)
		}
	}
	for a := range want {
		if n.followed[a] == nil {
			fctx, cancel := context.WithCancel(ctx)
			n.followed[a] = cancel
			go n.peers.Follow(fctx, a)
		}
	}
}

// followSentinel subscribes to the events of the sentinel at addr until
// ctx ends, trying again with backoff while it does not answer (Subscribe
// itself reconnects a subscription that was lost).
func (n *Node) followSentinel(ctx context.Context, addr string) {
	defer n.recoverPeer("sentinel events from " + addr)
	c := sentinel.Dial(addr, n.o.Password)
	defer c.Close()
	wait := 250 * time.Millisecond
	for ctx.Err() == nil {
		events, err := c.Subscribe(ctx)
		if err != nil {
			n.log.Debug("subscribe to a sentinel's events; trying again", "sentinel", addr, "error", err, "in", wait)
			if ctxtime.Sleep(ctx, wait) != nil {
				return
			}
			wait = min(2*wait, followBackoffMax)
			continue
		}
		wait = 250 * time.Millisecond
		for e := range events {
			if n.sentinelEvent(addr, e) {
				if n.alarmed() {
					n.fenceAtOnce(ctx)
				}
				n.Kick()
			}
		}
	}
}

// sentinelEvent records what e says about a failover of this node's
// entry and reports whether a tick should follow at once.
func (n *Node) sentinelEvent(from string, e sentinel.Event) bool {
	if len(e.Payload) > maxEventPayload {
		return false
	}
	if sm := e.SwitchMaster; sm != nil {
		if sm.Name == MasterName && sm.OldAddr == n.self {
			n.setEventAlarm(from, "")
		}
		return true
	}
	if e.MasterName != MasterName || e.MasterAddr != n.self {
		return e.Type == sentinel.EventReconnected
	}
	switch {
	case failoverStarts[e.Type]:
		if n.setEventAlarm(from, e.Type) {
			n.log.Warn("a sentinel is failing this master over", "sentinel", from, "event", e.Type)
		}
		return true
	case failoverEnds[e.Type] || strings.HasPrefix(e.Type, "-failover-abort"):
		n.setEventAlarm(from, "")
		return true
	}
	return false
}

// setEventAlarm records (typ != "") or clears the alarm from one sentinel;
// it reports whether a new alarm was raised.
func (n *Node) setEventAlarm(from, typ string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if typ == "" {
		delete(n.eventAlarms, from)
		return false
	}
	if n.eventAlarms == nil {
		n.eventAlarms = map[string]eventAlarm{}
	}
	_, had := n.eventAlarms[from]
	n.eventAlarms[from] = eventAlarm{typ: typ, at: time.Now()}
	return !had
}

// currentEventAlarms lists the alarms raised within eventAlarmTTL, one
// "sentinel: event" each.
func (n *Node) currentEventAlarms() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for from, a := range n.eventAlarms {
		if time.Since(a.at) > eventAlarmTTL {
			delete(n.eventAlarms, from)
			continue
		}
		out = append(out, from+": "+a.typ)
	}
	sort.Strings(out)
	return out
}

// alarmed reports whether an event alarm or a planned failover of this
// node is current.
func (n *Node) alarmed() bool {
	return len(n.currentEventAlarms()) > 0 || n.plannedFor() != ""
}

// fenceAtOnce fences on an alarm just raised, before the tick it asks
// for: that tick asks Consul and every sentinel first, which takes tens to
// hundreds of milliseconds on a busy host, and a failover's leader
// promotes a replica 150-300 ms after its first event (one step of its
// state machine per timer tick of 50-100 ms). The choice is still
// Decide's, on what is known without asking anybody: INFO, the event
// alarms and the planned failover. It only raises the fence; lifting it is
// left to the tick.
func (n *Node) fenceAtOnce(ctx context.Context) {
	n.fenceMu.Lock()
	defer n.fenceMu.Unlock()
	ictx, cancel := context.WithTimeout(ctx, max(n.o.PollInterval/3, 100*time.Millisecond))
	defer cancel()
	obs := Observation{Self: n.self, EventAlarms: n.currentEventAlarms(), Planned: n.plannedFor(), SentinelOK: true}
	if obs.Info, obs.InfoErr = n.redis.Info(ictx, "replication"); obs.InfoErr != nil {
		return
	}
	if d := Decide(obs); d.Fence {
		n.fence(ictx, true, d.Note)
	}
}

// recoverPeer keeps PID 1 alive when a goroutine that reads a peer panics.
func (n *Node) recoverPeer(what string) {
	if r := recover(); r != nil {
		n.log.Error("recovered from a panic; this goroutine ends", "goroutine", what, "panic", fmt.Sprint(r))
	}
}
