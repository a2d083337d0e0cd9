package httpapi

import (
	"context"

	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// NodeRole returns the RoleFunc of a node: the local redis's INFO read at
// request time, checked against the node's last decision (status).
//
// A master is healthy only when its INFO is healthy and the last tick
// registered it as `redis` with a passing check, which it does only when a
// majority of the sentinels name it: a master cut off from the others, or
// one the sentinels replaced, answers 503 on /master, so a load balancer
// never sends writes to two masters. A replica is healthy when its INFO is
// (loaded, persisting, link up); its lag is read from its master through
// master (metrics.DialMasterInfo), -1 when that fails.
func NodeRole(status func() lifecycle.Status, local metrics.InfoReader, master metrics.MasterInfoFunc) RoleFunc {
	return func(ctx context.Context) (string, bool, int64) {
		r, err := metrics.ReadReplication(ctx, local, master)
		if err != nil {
			return "", false, -1
		}
		switch r.Role {
		case redisnode.RoleMaster:
			st := status()
			ok := r.Healthy && st.Role == lifecycle.RoleMaster && st.Registered == registry.ServiceMaster && st.Passing
			return RoleMaster, ok, 0
		case redisnode.RoleReplica:
			return RoleReplica, r.Healthy, r.LagBytes
		}
		return "", false, -1
	}
}

// RedisHealth is the local redis as NodeHealth needs it; *redisnode.Client
// is one.
type RedisHealth interface {
	Health(ctx context.Context) (ok bool, reason string)
}

// Pinger is the local sentinel as NodeHealth needs it; *sentinel.Client
// is one.
type Pinger interface {
	Ping(ctx context.Context) error
}

// NodeHealth returns the HealthFunc of a node: healthy when the local
// redis passes redisnode's health rule and the local sentinel answers PING.
func NodeHealth(redis RedisHealth, sentinel Pinger) HealthFunc {
	return func(ctx context.Context) (bool, string) {
		if ok, reason := redis.Health(ctx); !ok {
			return false, "redis is not healthy: " + reason
		}
		if err := sentinel.Ping(ctx); err != nil {
			return false, "sentinel does not answer PING: " + err.Error()
		}
		return true, "redis and sentinel are healthy"
	}
}
