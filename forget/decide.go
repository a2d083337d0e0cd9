// Package forget makes the sentinels forget departed replicas and
// sentinels, and Consul the registrations of departed nodes, without
// anybody's help and without ever making a failover impossible.
//
// Sentinel never forgets a sentinel or replica it once saw, and a failover
// needs the votes of a majority of every sentinel it knows: a cluster whose
// nodes are replaced (new addresses each time) ends up unable to fail over.
// The cure, SENTINEL RESET, wipes the sentinel's replica and sentinel lists;
// done on every sentinel at once (the shell version at every stop) it leaves
// a master lost in the next seconds with nobody to promote it.
//
// So one node at a time (a Consul lock) runs a loop: observe (Consul,
// every live sentinel, the master), Decide (pure, one English reason),
// apply one step. A step resets one sentinel, and only when the master is
// healthy and not fenced (a hand-over fences it before any sentinel flags
// a failover), a majority of the live sentinels and of all the registered
// ones name it, none flags it down or failing over, and every live
// sentinel already knows every live replica and sentinel: the sentinel
// reset last has rediscovered them before the next is reset. Dead agents'
// registrations are removed first, on the same conditions but the last
// two: the sentinels that name the master must be a majority of the live
// ones and at least half of the registered ones. A minority cut off from
// the rest must never shrink the majority the reconcile tick counts until
// it confirms its master alone; but three dead beside three live must go,
// or the tick confirms no master ever again.
package forget

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/registry"
)

// Entry is one replica or sentinel in a sentinel's tables.
type Entry struct {
	Addr string
	// Down: the sentinel flags it s_down, o_down or disconnected.
	Down bool
}

// View is what one live sentinel answered.
type View struct {
	Sentinel string
	// Err is set when it did not answer; the other fields are then empty.
	Err error
	// Master is the master it names; Flags its master entry's flags.
	Master string
	Flags  []string
	// Replicas and Sentinels are its tables (SENTINEL REPLICAS, SENTINELS).
	Replicas, Sentinels []Entry
}

// Observation is what one step saw. Observe builds it by reading only.
type Observation struct {
	// Grace is SENTINEL_FORGET_AFTER.
	Grace time.Duration
	// LiveSentinels and LiveReplicas are the addresses Consul lists with
	// a check that is not critical (redis-sentinel, redis-replica).
	LiveSentinels, LiveReplicas []string
	// RegisteredSentinels is how many redis-sentinel registrations Consul
	// holds, live or not: the reconcile tick passes a master only when a
	// majority of all of them name it.
	RegisteredSentinels int
	// Views are the live sentinels' answers, in LiveSentinels' order.
	Views []View
	// Absent is, for every address in a sentinel's tables, how long Consul
	// has had no registration for it on a live agent (0: it has one now).
	Absent map[string]time.Duration
	// MasterRole is the role the majority's master reports in INFO;
	// MasterErr is set when it did not answer.
	MasterRole string
	MasterErr  error
	// MasterFenced: the master's write fence is up, as a node raises it
	// while the master is handed over (a planned failover, a master that
	// stops) or failed over; no sentinel flags the first part of that.
	MasterFenced bool
	// Dead are registrations on nodes whose Consul agent has been gone
	// (serfHealth critical) for at least Grace.
	Dead []registry.Instance
}

// Action is what a step does.
type Action string

// Actions, also the label values of the metric.
const (
	// Idle: nothing departed.
	Idle Action = "idle"
	// Wait: something departed, but resetting now is not safe.
	Wait Action = "wait"
	// Reset: SENTINEL RESET on one sentinel.
	Reset Action = "sentinel_reset"
	// Deregister: remove dead agents' registrations from the catalog.
	Deregister Action = "registration_removed"
)

// Decision is what a step does, and why.
type Decision struct {
	Action Action
	// Sentinel is the sentinel to reset; Departed what it forgets; Expect
	// the live replicas it must list again before the step ends.
	Sentinel string
	Departed []string
	Expect   []string
	// Remove are the registrations to remove.
	Remove []registry.Instance
	// Reason is one English sentence.
	Reason string
}

// alarmFlags on a master entry mean it is unreachable or may be failing
// over.
var alarmFlags = []string{"s_down", "o_down", "disconnected", "failover_in_progress", "force_failover"}

// Decide turns an observation into a decision. It has no side effects.
func Decide(o Observation) Decision {
	if len(o.Dead) > 0 {
		ids := make([]string, len(o.Dead))
		for i, in := range o.Dead {
			ids[i] = in.ID + " on " + in.Node
		}
		gone := fmt.Sprintf("the Consul agents of %s have been gone for %s or more", strings.Join(ids, ", "), o.Grace)
		why := unsafe(o)
		if why == "" {
			why = outnumbered(o)
		}
		if why != "" {
			return Decision{Action: Wait, Reason: gone + ", but their registrations are not removed now: " + why}
		}
		return Decision{Action: Deregister, Remove: o.Dead,
			Reason: gone + ", so their registrations are removed and no longer count in any majority"}
	}
	sentinel, departed := firstDeparted(o)
	if sentinel == "" {
		return Decision{Action: Idle, Reason: "no live sentinel lists a departed replica or sentinel"}
	}
	why := unsafe(o)
	if why == "" {
		why = noRegisteredMajority(o)
	}
	if why == "" {
		why = rediscovering(o)
	}
	if why != "" {
		return Decision{Action: Wait, Sentinel: sentinel, Departed: departed,
			Reason: fmt.Sprintf("%s lists departed %s, but it is not reset now: %s", sentinel, strings.Join(departed, ", "), why)}
	}
	master, _ := Majority(o.Views)
	var expect []string
	for _, r := range o.LiveReplicas {
		if r != master {
			expect = append(expect, r)
		}
	}
	return Decision{Action: Reset, Sentinel: sentinel, Departed: departed, Expect: expect,
		Reason: fmt.Sprintf("%s lists %s, which Consul has not had live for %s or more and it flags down; the master is healthy and every live sentinel knows every live replica and sentinel, so %s is reset alone", sentinel, strings.Join(departed, ", "), o.Grace, sentinel)}
}

// firstDeparted is the first live sentinel that lists departed entries,
// and those entries: flagged down by it, and absent from Consul for Grace.
func firstDeparted(o Observation) (string, []string) {
	for _, v := range o.Views {
		if v.Err != nil {
			continue
		}
		var out []string
		for _, e := range append(append([]Entry{}, v.Replicas...), v.Sentinels...) {
			if e.Down && o.Absent[e.Addr] >= o.Grace {
				out = append(out, e.Addr)
			}
		}
		if len(out) > 0 {
			sort.Strings(out)
			return v.Sentinel, out
		}
	}
	return "", nil
}

// unsafe says why the cluster may not be changed now (no sentinel reset,
// no registration removed), or "".
func unsafe(o Observation) string {
	for _, v := range o.Views {
		if v.Err != nil {
			return fmt.Sprintf("the live sentinel %s does not answer (%v)", v.Sentinel, v.Err)
		}
	}
	for _, v := range o.Views {
		if f := alarm(v.Flags); f != "" {
			return fmt.Sprintf("%s flags the master %s, so a failover may be under way", v.Sentinel, f)
		}
	}
	master, agreed := Majority(o.Views)
	if agreed*2 <= len(o.LiveSentinels) {
		return fmt.Sprintf("no majority of the %d live sentinels agree on a master", len(o.LiveSentinels))
	}
	if o.MasterErr != nil {
		return fmt.Sprintf("the master %s does not answer (%v)", master, o.MasterErr)
	}
	if o.MasterRole != "master" {
		return fmt.Sprintf("the master %s reports role %q", master, o.MasterRole)
	}
	if o.MasterFenced {
		return fmt.Sprintf("the master %s refuses writes (its write fence is up), so it is being handed over or failed over", master)
	}
	return ""
}

// noRegisteredMajority says why no sentinel may be reset, or "": the
// live side may be a minority cut off from the rest, which fails over on
// its own, and a reset there would let it confirm its master alone. Dead
// agents' registrations are removed first (outnumbered), so this holds
// for resets once the dead are gone.
func noRegisteredMajority(o Observation) string {
	master, agreed := Majority(o.Views)
	if all := registered(o); agreed*2 <= all {
		return fmt.Sprintf("only %d of the %d sentinels registered in Consul name the master %s, no majority (the others may be cut off and failing over on their own)", agreed, all, master)
	}
	return ""
}

// outnumbered says why dead agents' registrations may not be removed, or
// "": the sentinels that name the master must be at least as many as all
// the other registered ones together. A side cut off from here fails over
// only with a majority of the sentinels it knows, which include those that
// were here with it: with no more sentinels than them, it has none. A
// strict majority, as for resets, deadlocked a cluster whose nodes were
// replaced faster than the grace period (the reliability suite's
// node-churn): three live sentinels beside three dead registrations are no
// majority, so the tick confirmed no master and the dead were never
// removed. More dead than live still wait for an operator.
func outnumbered(o Observation) string {
	master, agreed := Majority(o.Views)
	if all := registered(o); agreed*2 < all {
		return fmt.Sprintf("only %d of the %d sentinels registered in Consul name the master %s, fewer than the others (they may be cut off and failing over on their own)", agreed, all, master)
	}
	return ""
}

// registered is how many sentinels Consul holds, live or not.
func registered(o Observation) int {
	return max(o.RegisteredSentinels, len(o.LiveSentinels))
}

// rediscovering says why no sentinel may be reset yet, or "": a live
// sentinel does not know every live replica and sentinel.
func rediscovering(o Observation) string {
	master, _ := Majority(o.Views)
	for _, v := range o.Views {
		if missing := unknown(v, o, master); len(missing) > 0 {
			return fmt.Sprintf("%s does not know the live %s yet (a sentinel reset last rediscovers them first)", v.Sentinel, strings.Join(missing, ", "))
		}
	}
	return ""
}

func alarm(flags []string) string {
	var out []string
	for _, f := range flags {
		for _, a := range alarmFlags {
			if f == a {
				out = append(out, f)
			}
		}
	}
	return strings.Join(out, ",")
}

// Majority is the master named by the most views that answered, and by
// how many.
func Majority(views []View) (master string, agreed int) {
	votes := map[string]int{}
	for _, v := range views {
		if v.Err == nil && v.Master != "" {
			votes[v.Master]++
		}
	}
	for m, n := range votes {
		if n > agreed || n == agreed && m < master {
			master, agreed = m, n
		}
	}
	return master, agreed
}

// unknown lists the live replicas and other live sentinels v does not list
// as up.
func unknown(v View, o Observation, master string) []string {
	up := map[string]bool{}
	for _, e := range append(append([]Entry{}, v.Replicas...), v.Sentinels...) {
		if !e.Down {
			up[e.Addr] = true
		}
	}
	var out []string
	for _, r := range o.LiveReplicas {
		if r != master && !up[r] {
			out = append(out, "replica "+r)
		}
	}
	for _, s := range o.LiveSentinels {
		if s != v.Sentinel && !up[s] {
			out = append(out, "sentinel "+s)
		}
	}
	return out
}
