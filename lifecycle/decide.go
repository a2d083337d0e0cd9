package lifecycle

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/registry"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
)

// Observation is what one tick saw. It is built by reading only.
type Observation struct {
	// ConsulErr is set when Consul did not answer: observing stopped
	// there, and what is read from Consul (Registered, Catalog,
	// Sentinels, OtherMaster, StaleMasters, SentinelRegistered) is
	// unknown; so is what the sentinels say unless SentinelAsked.
	ConsulErr error
	// Self is this node's redis "ip:port", SelfSentinel its sentinel's.
	Self, SelfSentinel string
	// At is when the observation was made.
	At time.Time
	// Info is the local redis's INFO; InfoErr is set when it did not answer.
	Info    redisnode.Info
	InfoErr error
	// Registered is the redis service name now registered on the local
	// agent for this node ("redis", "redis-replica"), or "".
	Registered string
	// SentinelMaster is the master a majority of the sentinels registered
	// in Consul name (counted over every registered sentinel, passing or
	// not: see sentinelAddrs); SentinelErr says why there is none.
	SentinelMaster string
	SentinelErr    error
	// SentinelAsked is whether the sentinels were asked at all (observe
	// got that far); the fields about them mean nothing otherwise.
	SentinelAsked bool
	// SentinelAlarms lists the sentinels that name this node master and
	// flag it o_down or failover_in_progress ("sentinel: flags").
	SentinelAlarms []string
	// EventAlarms lists the sentinels that published the start of a
	// failover of this node's entry (+try-failover ...) in the last
	// seconds ("sentinel: event"): a failover's leader announces it before
	// the flags and the majority show it.
	EventAlarms []string
	// Planned says who runs a planned failover of this node
	// (registry.KeyFailoverLock), or is "".
	Planned string
	// Sentinels are every sentinel registered in Consul, this node's first.
	Sentinels []string
	// OtherMaster is another node ("ip:port") that Consul lists as a
	// passing redis and that answers as master: this node waits for it to
	// step down before passing as redis itself.
	OtherMaster string
	// StaleMasters are other nodes Consul lists as redis, passing or with
	// a TTL check not yet critical, that do not answer as master (dead, or
	// demoted): with the sentinels naming this node, the tick marks them
	// critical in the catalog.
	StaleMasters []registry.Instance
	// SentinelRegistered is whether this node's redis-sentinel service is
	// on the local agent.
	SentinelRegistered bool
	// Catalog is what the servers' catalog holds for this node's agent
	// (apply registers again what the agent has and the catalog lost).
	Catalog registry.CatalogView
	// SentinelOK is whether the local sentinel answers PING.
	SentinelOK bool
	// CatalogLostBefore is whether the last tick that read Consul found
	// the catalog lacking this node or one of its services.
	CatalogLostBefore bool
	// RecordedMaster is when this node last wrote itself to registry.KeyLastMaster
	// while passing as master; zero when it has not passed as master since.
	RecordedMaster time.Time
	// PromotableBy lists the sentinels that name SentinelMaster and list
	// this node among its replicas as one they could promote now
	// (sentinel.Instance.Promotable); read when INFO says replica.
	PromotableBy []string
	// ODownMaster is another node ("ip:port") the local sentinel flags
	// o_down as the master (its +odown event, or its entry's flags): a
	// quorum of sentinels agree it is down, and a failover follows. ""
	// when none.
	ODownMaster string
	// ODownListed are Consul's `redis` registrations of ODownMaster whose
	// TTL check is not critical yet; read only when ODownMaster is set.
	ODownListed []registry.Instance
	// MarkedCritical is set when the catalog holds this node's own redis
	// TTL check critical with an output another node wrote
	// (registry.MarkedCriticalPrefix): its agent, which has it passing
	// already, would sync it again only at its next full sync, minutes
	// later.
	MarkedCritical bool
	// SelfListings say, for each sentinel asked (every one registered in
	// Consul), whether it knows this node; read when a majority of the
	// sentinels name another node than INFO says is the master (this node
	// or the one it follows).
	SelfListings []SelfListing
	// NamedMasterListed is whether Consul lists SentinelMaster as its one
	// passing `redis`, NamedMasterErr why SentinelMaster did not answer as
	// master then; read with SelfListings when no sentinel lists this node.
	NamedMasterListed bool
	NamedMasterErr    error
	// ForgottenFor is the master the last ticks saw named while no
	// sentinel knew this node, a stale master or a replica of another
	// node (Decision.Forgotten), ForgottenSince
	// when they first saw it; RepointAfter is how long that must hold
	// before this node re-points itself (repointGrace).
	ForgottenFor   string
	ForgottenSince time.Time
	RepointAfter   time.Duration
}

// Decision is what a tick does, and why.
type Decision struct {
	// Role is what INFO says this node is (RoleNone when redis is down).
	Role Role
	// Service is the redis service to be registered: "redis" or
	// "redis-replica".
	Service string
	// Pass is whether its check passes; Note is the check's output.
	Pass bool
	Note string
	// Fence is whether this node's redis must refuse writes: it reports
	// role master while the sentinels are failing it over or name another
	// master. Its replicas may still follow it for a moment and acknowledge
	// WAIT for writes the new master never gets.
	Fence bool
	// SentinelPass is whether the redis-sentinel check passes.
	SentinelPass bool
	// Reason is one English sentence: what the node is and why.
	Reason string
	// Forgotten is the master a majority of the sentinels name while none
	// of them knows this node, a stale master or a replica of another node
	// (see decideRepoint), or "";
	// the next tick reads it as ForgottenFor.
	Forgotten string
	// Repoint is the master this node's redis is made a replica of now
	// (REPLICAOF, then CONFIG REWRITE), or "".
	Repoint string
	// Changes are what apply does to Consul besides the checks.
	Changes
}

// Decide turns an observation into a decision. It has no side effects.
//
// The registration follows INFO role, with one exception that keeps Consul
// from ever listing two masters: a node that reports role:master is not
// passed as `redis` unless a majority of the sentinels registered in
// Consul (every one of them, passing or not) agree it is the master. A
// master cut off from the others thus goes critical in Consul while the
// sentinels fail over on the majority side.
//
// Besides the registration and the fence, Decide makes the choices about
// Consul that apply carries out (Changes): re-registering what the
// catalog lost, marking stale masters critical first, recording the last
// master. The state they depend on comes in the observation
// (CatalogLostBefore, RecordedMaster, At).
//
// When Consul did not answer, that is the decision: nothing passes, and
// the reason says so ("Consul does not answer: ..."); the write fence is
// still decided on what was seen (INFO, failover events, a planned
// failover, and the sentinels when they were asked).
func Decide(o Observation) Decision {
	d := decideRole(o)
	if o.ConsulErr != nil {
		d = unobserved(o, d)
	} else {
		decideChanges(o, &d)
	}
	if !o.SentinelOK {
		d.Reason += "; the local sentinel does not answer"
	}
	return d
}

// unobserved makes Consul's silence the decision: a node that cannot
// read or write its registration does not pass, whatever redis says.
func unobserved(o Observation, d Decision) Decision {
	why := "Consul does not answer"
	if !o.SentinelAsked {
		why += ", so the sentinels could not be asked"
	}
	why += ": " + errString(o.ConsulErr)
	d.Pass = false
	// What the sentinels know of this node is unknown: it is not
	// re-pointed, and the time it has been forgotten keeps counting.
	d.Repoint, d.Forgotten = "", keepForgotten(o, o.SentinelMaster)
	if d.Fence || o.InfoErr != nil {
		d.Note += "; " + why
		d.Reason += "; " + why
		return d
	}
	d.Note, d.Reason = why, why
	return d
}

// decideRole is the decision on a complete observation: it follows what
// INFO says this node is.
func decideRole(o Observation) Decision {
	if o.InfoErr != nil {
		d := unregistrable(o)
		d.Forgotten = keepForgotten(o, o.SentinelMaster)
		d.Note = fmt.Sprintf("redis does not answer: %v", o.InfoErr)
		d.Reason = "redis does not answer, so its check is failing: " + o.InfoErr.Error()
		return d
	}
	switch o.Info.Role() {
	case redisnode.RoleMaster:
		return decideMaster(o)
	case redisnode.RoleReplica:
		return decideReplica(o)
	default:
		d := unregistrable(o)
		d.Note = "INFO has no role"
		d.Reason = "redis answered INFO without a role, so its check is failing"
		return d
	}
}

// unregistrable is the start of the decision for a redis whose role is
// unknown: its registration stays as it is (a replica when none), failing.
func unregistrable(o Observation) Decision {
	d := Decision{SentinelPass: o.SentinelOK, Service: o.Registered}
	if d.Service == "" {
		d.Service = registry.ServiceReplica
	}
	return d
}

// decideMaster is the decision for a redis that reports role master: it
// passes as `redis` only when a majority of the sentinels name it, nothing
// is failing it over, and Consul lists no other passing master.
func decideMaster(o Observation) Decision {
	d := Decision{SentinelPass: o.SentinelOK, Role: RoleMaster, Service: registry.ServiceMaster}
	healthy, why := redisnode.Health(o.Info)
	switch {
	case o.SentinelMaster != "" && o.SentinelMaster != o.Self:
		d.Service = registry.ServiceReplica
		d.Fence = true
		d.Note = fmt.Sprintf("redis reports role master but a majority of sentinels name %s; writes are fenced", o.SentinelMaster)
		// Fenced, and re-pointed only when no sentinel knows this node
		// (decideRepoint): for a few seconds a replica that Sentinel has
		// just promoted looks the same (the other sentinels have not
		// heard yet), and re-pointing it aborts the failover. Sentinel
		// re-points a stale master it knows itself; the fence is lifted
		// by the tick that sees a replica or the majority name this node.
		d.Reason = d.Note + ", so this node is not advertised as master"
		decideRepoint(o, &d, "redis reports role master")
	case o.Planned != "":
		d.Fence = true
		d.Note = fmt.Sprintf("a planned failover (%s) is handing this master over; writes are fenced", o.Planned)
		d.Reason = d.Note + ", and it is not advertised as master"
	case len(o.EventAlarms) > 0:
		d.Fence = true
		d.Note = fmt.Sprintf("a sentinel has started failing this master over (%s); writes are fenced", strings.Join(o.EventAlarms, "; "))
		d.Reason = d.Note + ", and it is not advertised as master"
	case o.SentinelMaster == "":
		d.Note = fmt.Sprintf("redis reports role master but no majority of sentinels confirms it: %v", o.SentinelErr)
		d.Reason = d.Note
		d.Forgotten = keepForgotten(o, "")
	case len(o.SentinelAlarms) > 0:
		d.Fence = true
		d.Note = fmt.Sprintf("the sentinels are failing this master over (%s); writes are fenced", strings.Join(o.SentinelAlarms, "; "))
		d.Reason = d.Note + ", and it is not advertised as master"
	case !healthy:
		d.Note = "master is unhealthy: " + why
		d.Reason = "this node is the master but unhealthy: " + why
	case o.OtherMaster != "":
		d.Note = fmt.Sprintf("the sentinels name this node master, but Consul still lists %s as a passing master", o.OtherMaster)
		d.Reason = d.Note + "; waiting for it to step down so Consul never lists two"
	default:
		d.Pass = true
		d.Note = "master, confirmed by a majority of sentinels"
		d.Reason = "this node is the master: redis reports role master and a majority of sentinels agree"
	}
	return d
}

// decideReplica is the decision for a redis that reports role replica: it
// passes as `redis-replica` when healthy and a majority of the sentinels
// could promote it.
func decideReplica(o Observation) Decision {
	d := Decision{SentinelPass: o.SentinelOK, Role: RoleReplica, Service: registry.ServiceReplica}
	healthy, why := redisnode.Health(o.Info)
	master := follows(o.Info)
	switch {
	case !healthy:
		d.Note = "replica of " + master + " is unhealthy: " + why
		d.Reason = "this node is a replica of " + master + " but unhealthy: " + why
	case 2*len(o.PromotableBy) <= len(o.Sentinels):
		// A replica Consul lists must be one a failover can pick:
		// Sentinel learns of a new replica from the master's INFO,
		// every 10 s, and SENTINEL FAILOVER answered NOGOODSLAVE for
		// 8 s after Consul listed a joining replica passing.
		d.Note = fmt.Sprintf("replica of %s, link up, but only %d of %d sentinels could promote it yet", master, len(o.PromotableBy), len(o.Sentinels))
		d.Reason = "this node is a replica of " + master + " with its link up, but it does not pass until a majority of the sentinels could promote it: " +
			fmt.Sprintf("%d of %d list it as a connected replica of %s with its link up (a sentinel reads the master's INFO every 10 s)", len(o.PromotableBy), len(o.Sentinels), nonEmpty(o.SentinelMaster))
	default:
		d.Pass = true
		d.Note = fmt.Sprintf("replica of %s, link up, promotable by %d of %d sentinels", master, len(o.PromotableBy), len(o.Sentinels))
		d.Reason = "this node is a replica of " + master + " with its link up, and a majority of the sentinels could promote it"
	}
	if o.SentinelMaster == "" {
		// No majority: whether it follows the right node is unknown, and
		// the time it has been forgotten keeps counting.
		d.Forgotten = keepForgotten(o, "")
	} else if master != o.SentinelMaster {
		// A replica that joined a moment before a failover, before any
		// sentinel had read it in the master's INFO, is not among those
		// the leader re-points: it follows the old master, dead or a
		// replica itself, for good (the reliability suite's rolling
		// replacement). Sentinel re-points a replica it knows itself.
		decideRepoint(o, &d, "redis is a replica of "+master)
	}
	return d
}

// decideRepoint decides whether this node, a stale master or a replica of
// another node (what says which), while a majority of the sentinels name
// X (o.SentinelMaster), makes itself X's replica (d.Repoint): Sentinel
// re-points only the instances it knows (see repoint.go). All of these
// must hold:
//
//   - no sentinel that answered lists this node at all: none names it
//     master, has it as its entry or lists it among the entry's replicas
//     (SENTINEL REPLICAS). A replica Sentinel has just promoted looks like
//     a stale master for a few seconds, but its leader names it and the
//     others list it as the old master's replica: re-pointing it would
//     abort the failover. The replicas a failover re-points are listed
//     too. A sentinel that knows this node re-points it itself;
//   - every sentinel whose check passes in Consul answered, with its entry
//     and replicas: one that could answer and did not may know this node.
//     One failing its check that does not answer is not waited for;
//   - no planned failover is handing this node over, and no sentinel flags
//     or announces failing it over;
//   - Consul lists X as its one passing `redis` (X's own node saw a
//     majority of the sentinels name it, healthy, unfenced), and X answers
//     as master: both, so that this node never follows a master that died
//     since its check last passed, nor one only the sentinels name;
//   - all of this has held for o.RepointAfter, twice down-after and at
//     least 15 s: longer than a failover in flight takes to reach every
//     sentinel. The count stops at a tick that sees redis follow X or
//     report no role, the majority name another node, a sentinel list
//     this node, or a failover of it; a tick that cannot tell (redis,
//     Consul or a sentinel silent, X not passing or not answering: a
//     loaded host fails a check now and then) neither starts nor stops it.
func decideRepoint(o Observation, d *Decision, what string) {
	x := o.SentinelMaster
	var unread, listing []string
	for _, l := range o.SelfListings {
		switch {
		case l.Lists:
			listing = append(listing, l.Sentinel)
		case !l.Read && l.Passing:
			unread = append(unread, l.Sentinel)
		}
	}
	switch {
	case o.Planned != "" || len(o.EventAlarms) > 0 || len(o.SentinelAlarms) > 0:
		d.Reason += "; a failover of this node is under way, so it is not re-pointed"
	case len(listing) > 0:
		// One that lists it re-points it when it answers.
		d.Reason += fmt.Sprintf("; it is not re-pointed while a sentinel knows this node (%s)", strings.Join(listing, ", "))
	case len(o.SelfListings) == 0 || len(unread) > 0:
		d.Forgotten = keepForgotten(o, x)
		d.Reason += fmt.Sprintf("; whether a sentinel still knows this node is unknown (%s did not answer with its replicas), so it is not re-pointed",
			nonEmpty(strings.Join(unread, ", ")))
	case !o.NamedMasterListed:
		d.Forgotten = keepForgotten(o, x)
		d.Reason += fmt.Sprintf("; no sentinel knows this node, but Consul does not list %s as its one passing redis, so it is not re-pointed", x)
	case o.NamedMasterErr != nil:
		d.Forgotten = keepForgotten(o, x)
		d.Reason += fmt.Sprintf("; no sentinel knows this node, but %s does not answer as master (%v), so it is not re-pointed", x, o.NamedMasterErr)
	default:
		d.Forgotten = x
		since := o.At
		if o.ForgottenFor == x && !o.ForgottenSince.IsZero() {
			since = o.ForgottenSince
		}
		held := o.At.Sub(since)
		if held < o.RepointAfter {
			d.Reason += fmt.Sprintf("; no sentinel knows this node, so none will re-point it: it becomes %s's replica once that has held for %s (seen since %s)",
				x, o.RepointAfter, since.Format("15:04:05"))
			return
		}
		d.Repoint = x
		d.Note = fmt.Sprintf("%s but a majority of sentinels name %s and none knows this node; it becomes %s's replica", what, x, x)
		if d.Fence {
			d.Note += "; writes are fenced"
		}
		d.Reason = fmt.Sprintf("%s but a majority of sentinels name %s and none knows this node; it has been so for %s, so it becomes %s's replica",
			what, x, held.Round(time.Second), x)
	}
}

// keepForgotten is Decision.Forgotten for a tick that could not tell
// whether this node is still forgotten: the count goes on, unless redis
// answered neither master nor replica of another node than the one
// counted for, or the sentinels name another node (named, when known).
func keepForgotten(o Observation, named string) string {
	if (o.InfoErr == nil && !misplaced(o.Info, o.ForgottenFor)) || (named != "" && named != o.ForgottenFor) {
		return ""
	}
	return o.ForgottenFor
}

// misplaced is whether a redis that answered info reports role master, or
// is a replica of another node than x.
func misplaced(info redisnode.Info, x string) bool {
	switch info.Role() {
	case redisnode.RoleMaster:
		return true
	case redisnode.RoleReplica:
		return follows(info) != x
	}
	return false
}

// follows is the master ("ip:port") a redis that reports role replica
// follows.
func follows(info redisnode.Info) string {
	return net.JoinHostPort(info.MasterHost(), strconv.Itoa(info.MasterPort()))
}
