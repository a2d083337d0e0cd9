package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// A master the sentinels have replaced is made a replica by Sentinel, but
// only by a sentinel that knows it: from the switch on, each lists the old
// master among the new master's replicas and converts it when it answers.
// One that no sentinel knows any more (frozen or crash-looping for longer
// than SENTINEL_FORGET_AFTER, so the cleanup reset them; or after an
// operator's SENTINEL RESET) stayed a fenced master for good, and the
// cluster one replica short (the reliability suite's redis-crash-loop).
// The same holds for a replica: the failover's leader re-points the
// replicas it knows, and one that joined a moment earlier, before any
// sentinel read it in the master's INFO, followed the old master, dead,
// for good (the reliability suite's rolling-replacement). Its node
// re-points it itself; decideRepoint says when.

// SelfListing is what one sentinel registered in Consul says of this node.
type SelfListing struct {
	Sentinel string
	// Passing is whether its redis-sentinel check passes in Consul.
	Passing bool
	// Read is whether it named a master and its entry (SENTINEL MASTER)
	// and that entry's replicas (SENTINEL REPLICAS) were read.
	Read bool
	// Lists is whether it names this node master, has it as its entry, or
	// lists it among the entry's replicas.
	Lists bool
}

// repointGrace is how long a node no sentinel knows, a stale master or a
// replica of another node, waits before it re-points itself
// (Observation.RepointAfter): twice down-after, and at least 15 s, longer
// than a failover in flight takes to reach every sentinel.
func repointGrace(downAfter time.Duration) time.Duration {
	return max(2*downAfter, 15*time.Second)
}

// observeForgotten fills in SelfListings from the sentinels' answers v and,
// when none lists this node, NamedMasterListed and NamedMasterErr: for a
// redis that reports role master, or follows a master, while a majority
// of the sentinels name another node.
func (n *Node) observeForgotten(ctx context.Context, obs *Observation, v sentinel.View) error {
	passing, err := n.o.Reg.Instances(ctx, registry.ServiceSentinel, true)
	if err != nil {
		return err
	}
	up := map[string]bool{}
	for _, in := range passing {
		up[instance(in).addr()] = true
	}
	known := false
	for _, a := range v.Answers {
		l := SelfListing{Sentinel: a.Sentinel, Passing: up[a.Sentinel],
			Read: a.Err == nil && a.Entry != "" && a.ReplicasErr == nil}
		l.Lists = a.Err == nil && (a.Master == n.self || a.Entry == n.self)
		for _, r := range a.Replicas {
			l.Lists = l.Lists || r.Addr() == n.self
		}
		known = known || l.Lists
		obs.SelfListings = append(obs.SelfListings, l)
	}
	if known {
		return nil
	}
	masters, err := n.o.Reg.Instances(ctx, registry.ServiceMaster, true)
	if err != nil {
		return err
	}
	obs.NamedMasterListed = len(masters) == 1 && instance(masters[0]).addr() == obs.SentinelMaster
	if obs.NamedMasterListed {
		obs.NamedMasterErr = n.peers.ProbeMaster(ctx, obs.SentinelMaster)
	}
	return nil
}

// noteForgotten keeps Decision.Forgotten for the next tick, with when it
// was first seen.
func (n *Node) noteForgotten(at time.Time, forgotten string) {
	if forgotten == n.forgottenFor {
		return
	}
	n.forgottenFor, n.forgottenSince = forgotten, at
	if forgotten == "" {
		n.forgottenSince = time.Time{}
	}
}

// repoint carries out Decision.Repoint: REPLICAOF, then CONFIG REWRITE as
// Sentinel does when it converts an instance, so that a redis the
// supervisor restarts comes back as that master's replica, not as a
// master again or the old master's replica. A stale master's write fence
// stays up until the next tick sees a replica. Errors are logged and
// counted; the next tick decides again.
func (n *Node) repoint(ctx context.Context, d Decision) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := n.peers.ReplicaOf(ctx, d.Repoint)
	if err != nil {
		n.log.Error("make this node's redis, which no sentinel knows, a replica of the master the sentinels name", "master", d.Repoint, "error", err)
		n.o.Events.Repointed("failed")
		return
	}
	n.log.Warn("made this node's redis, which no sentinel knows, a replica of the master the sentinels name",
		"master", d.Repoint, "reason", d.Reason)
	n.o.Events.Repointed("done")
	if err := n.peers.RewriteConfig(ctx); err != nil {
		n.log.Warn("write the new master into redis.conf (CONFIG REWRITE); a restarted redis would come back as a master", "error", err)
	}
}

// replicaOf makes the local redis a replica of master ("ip:port").
func (n *Node) replicaOf(ctx context.Context, master string) error {
	host, port, err := splitAddr(master)
	if err != nil {
		return fmt.Errorf("master %w", err)
	}
	return n.redis.ReplicaOf(ctx, host, port)
}
