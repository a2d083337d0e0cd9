package backup

import (
	"context"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
)

// RedisNodeState is a NodeState read from a redis's INFO: its role, and
// healthy by redisnode's health rule (for a replica: the master link is
// up). An unanswered INFO is unhealthy.
func RedisNodeState(c *redisnode.Client) NodeState {
	return func(ctx context.Context) (string, bool) {
		info, err := c.Info(ctx)
		if err != nil {
			return "", false
		}
		ok, _ := redisnode.Health(info)
		return info.Role(), ok
	}
}
