package pitr

import (
	"context"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
)

// RedisNode is the Node of a redisnode.Client.
type RedisNode struct{ C *redisnode.Client }

// Info runs INFO.
func (n RedisNode) Info(ctx context.Context, sections ...string) (redisnode.Info, error) {
	return n.C.Info(ctx, sections...)
}

// BgRewriteAOF runs BGREWRITEAOF.
func (n RedisNode) BgRewriteAOF(ctx context.Context) error {
	return n.C.Redis().BgRewriteAOF(ctx).Err()
}

// ConfigSet runs CONFIG SET.
func (n RedisNode) ConfigSet(ctx context.Context, key, value string) error {
	return n.C.Redis().ConfigSet(ctx, key, value).Err()
}
