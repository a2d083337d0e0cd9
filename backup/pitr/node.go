package pitr

import (
	"context"
	"fmt"

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

// ConfigGet runs CONFIG GET for one parameter and returns its value.
func (n RedisNode) ConfigGet(ctx context.Context, key string) (string, error) {
	m, err := n.C.Redis().ConfigGet(ctx, key).Result()
	if err != nil {
		return "", err
	}
	v, ok := m[key]
	if !ok {
		return "", fmt.Errorf("CONFIG GET %s: redis has no such parameter", key)
	}
	return v, nil
}
