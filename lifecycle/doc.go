// Package lifecycle decides and acts for one node: what manage.sh's
// onStart, health, healthSentinel and preStop did, without their bugs.
//
// Start resolves the role (Resolver): Sentinel's majority first, then a
// passing `redis` in Consul, then waiting for a registered but unhealthy
// one, and only then the bootstrap lock. The reconcile tick (Decide) keeps
// the Consul registration equal to what Redis and the Sentinels say; it runs
// every poll interval and at once on +switch-master; the master fences its
// writes at the first event of a failover of it, from any registered
// sentinel (events.go). Stop hands the master role over before shutting
// down; PlannedFailover (`redis-autopilot failover`) runs the same
// hand-over (handover.go) from any node.
//
// The role is never stored: it is derived on every tick from INFO
// replication and the Sentinels' majority view. Decisions carry an English
// Reason, logged when it changes.
package lifecycle

import "time"

// Service names in Consul, as the shell version registered them.
const (
	ServiceMaster   = "redis"
	ServiceReplica  = "redis-replica"
	ServiceSentinel = "redis-sentinel"

	// LockKey is the bootstrap election lock.
	LockKey = "service/redis/locks/master"
	// LastMasterKey holds the "ip:port" of the last node that passed as
	// master. A cluster restarted as a whole gives that node — the one with
	// the newest data — the first chance at the bootstrap lock.
	LastMasterKey = "service/redis/last-master"
	// QuorumKey and FailoverTimeoutKey override the sentinel settings.
	QuorumKey          = "service/redis-sentinel/quorum"
	FailoverTimeoutKey = "service/redis-sentinel/failover-timeout"
	// MasterName is the name Sentinel monitors the master under.
	MasterName = "mymaster"
)

// Role is what this node is.
type Role string

// Roles.
const (
	RoleNone    Role = ""
	RoleMaster  Role = "master"
	RoleReplica Role = "replica"
)

// Service returns the Consul service a node of this role registers.
func (r Role) Service() string {
	if r == RoleMaster {
		return ServiceMaster
	}
	return ServiceReplica
}

// resolvePoll is how often start-up looks again while it waits for a
// registered master to pass or for the Sentinels to fail over.
var resolvePoll = time.Second
