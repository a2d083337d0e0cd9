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

import (
	"time"

	"github.com/autopilotpattern/redis-autopilot/etc"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// MasterName is the name Sentinel monitors the master under. The names
// in Consul (services and keys) are registry's.
const MasterName = etc.DefaultMasterName

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
		return registry.ServiceMaster
	}
	return registry.ServiceReplica
}

// resolvePoll is how often start-up looks again while it waits for a
// registered master to pass or for the Sentinels to fail over.
var resolvePoll = time.Second
