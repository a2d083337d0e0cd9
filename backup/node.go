package backup

import (
	"context"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
)

// RedisNodeState is a NodeState read from a redis's INFO: its role, and
// healthy by redisnode's health rule (for a replica: the master link is
// up). An unanswered INFO is unhealthy. A master whose write fence is up
// (redisnode.Fenced) is unhealthy too: it is being handed over, or the
// sentinels have failed it over and it has not been demoted yet (about
// 10 s): its data misses the new master's writes, so neither a backup nor
// a point-in-time chain is taken from it (one that did covered seconds
// without the writes the new master acknowledged in them).
func RedisNodeState(c *redisnode.Client) NodeState {
	return func(ctx context.Context) (string, bool) {
		info, err := c.Info(ctx)
		if err != nil {
			return "", false
		}
		ok, _ := redisnode.Health(info)
		if ok && info.Role() == redisnode.RoleMaster {
			fenced, err := c.Fenced(ctx)
			ok = err == nil && !fenced
		}
		return info.Role(), ok
	}
}
