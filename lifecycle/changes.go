package lifecycle

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/autopilotpattern/redis-autopilot/registry"
)

// Changes are what apply does to Consul besides setting the two checks,
// decided by Decide from the observation alone. apply carries them out in
// the order of the fields below and stops at the first error; the checks
// come after MarkCritical and the registrations, and RecordLastMaster
// after the checks.
type Changes struct {
	// CatalogLost is whether the servers' catalog lacks this node or one
	// of its services; the next tick reads it as
	// Observation.CatalogLostBefore.
	CatalogLost bool
	// Rejoin: the servers do not list this node (a server that lost its
	// state), so its agent joins them again (when it has servers to join,
	// CONSUL).
	Rejoin bool
	// Reregister are the services ("redis", "redis-replica",
	// "redis-sentinel") the catalog lost: each is deregistered and
	// registered again, so that the agent syncs it at once (it takes an
	// identical registration as already in sync). Left to itself, the
	// agent waits for its next gossip push-pull and full sync, which took
	// over 90 s in the reliability suite's consul-wiped. A service counts
	// as lost when two ticks in a row miss it, since a registration made
	// moments ago may not have reached the servers yet; at once when the
	// node itself is missing.
	Reregister []string
	// MarkCritical are other nodes' `redis` instances to mark critical
	// in the catalog before this node may pass as `redis`: never two
	// passing at once. A failure stops apply before the checks.
	MarkCritical []registry.Instance
	// Register: Service is not on the local agent, so it is registered;
	// Deregister is then the redis service it replaces, or "".
	Register   bool
	Deregister string
	// RegisterSentinel: the agent lost the redis-sentinel service
	// (restarted without state), so it is registered again.
	RegisterSentinel bool
	// MarkDown are other nodes' `redis` registrations to mark critical
	// in the catalog now, with the output MarkDownNote: the master the
	// local sentinel flags o_down, whose own node, frozen, cannot fail
	// its check; clients that find the master through Consul stop being
	// sent there before the failover ends.
	MarkDown     []registry.Instance
	MarkDownNote string
	// Resync: this node's redis check passes but another node marked it
	// critical in the catalog (Observation.MarkedCritical); apply fails
	// it, then passes it, so the agent syncs it at once.
	Resync bool
	// RecordLastMaster: write this node to registry.KeyLastMaster, after its check
	// passed as master: when it starts passing, and every
	// lastMasterRefresh while it does (the KV store may have been wiped).
	// A failure is logged and retried next tick: the key only orders a
	// whole-cluster restart.
	RecordLastMaster bool
}

// lastMasterRefresh is how often a passing master writes registry.KeyLastMaster
// again.
const lastMasterRefresh = time.Minute

// PassesAsMaster reports whether d passes this node as `redis`.
func (d Decision) PassesAsMaster() bool { return d.Service == registry.ServiceMaster && d.Pass }

// decideChanges fills in d's Changes from a complete observation.
//
// On a replica whose local sentinel flags the master o_down, that master
// is marked critical in the catalog (MarkDown): its own node fails its
// check when it sees the flags, but a frozen node sees nothing, and
// Consul listed it passing (with clients sent there) until the failover
// ended and the new master marked it. o_down is the local sentinel's,
// not any registered sentinel's: Consul's list is anyone's to fill, and
// o_down already means a quorum agreed.
func decideChanges(o Observation, d *Decision) {
	c := Changes{Register: o.Registered != d.Service, RegisterSentinel: !o.SentinelRegistered}
	if c.Register {
		c.Deregister = o.Registered
	}
	c.CatalogLost, c.Rejoin, c.Reregister = catalogRepair(o)
	// The observation lists stale masters only while the sentinels name
	// this node master; they go critical whatever else keeps it from
	// passing this tick.
	c.MarkCritical = o.StaleMasters
	c.RecordLastMaster = d.PassesAsMaster() &&
		(o.RecordedMaster.IsZero() || o.At.Sub(o.RecordedMaster) >= lastMasterRefresh)
	if d.Role == RoleReplica && o.ODownMaster != "" && o.ODownMaster != o.Self && len(o.ODownListed) > 0 {
		c.MarkDown = o.ODownListed
		c.MarkDownNote = fmt.Sprintf("the sentinels flag it o_down (seen by %s)", o.Self)
		d.Reason += fmt.Sprintf("; the local sentinel flags the master %s o_down, so its redis check is marked critical in the catalog", o.ODownMaster)
	}
	if d.Pass && o.MarkedCritical {
		c.Resync = true
		d.Reason += "; another node marked its check critical in the catalog, so it is passed again at once"
	}
	d.Changes = c
}

// catalogRepair decides how the node is put back into a catalog that lost
// it or its services (see Changes.Reregister).
func catalogRepair(o Observation) (lost, rejoin bool, reregister []string) {
	ids := o.Catalog.ServiceIDs
	lostRedis := o.Registered != "" && !ids[serviceIDAt(o.Registered, o.Self)]
	lostSent := o.SentinelRegistered && !ids[serviceIDAt(registry.ServiceSentinel, o.SelfSentinel)]
	lost = !o.Catalog.NodeRegistered || lostRedis || lostSent
	if !lost || (o.Catalog.NodeRegistered && !o.CatalogLostBefore) {
		return lost, false, nil
	}
	if lostRedis {
		reregister = append(reregister, o.Registered)
	}
	if lostSent {
		reregister = append(reregister, registry.ServiceSentinel)
	}
	return lost, !o.Catalog.NodeRegistered, reregister
}

// serviceIDAt is the ID of service name at addr ("ip:port").
func serviceIDAt(name, addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return registry.ServiceID(name, host, p)
}
