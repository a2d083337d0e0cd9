package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
)

const prioritySetting = "replica-priority"

// preferReplica makes Sentinel choose h.to: SENTINEL FAILOVER takes no
// target, but Sentinel never promotes a replica whose replica-priority is
// 0. Every other online replica gets 0 until restore runs (it sets the old
// value back, and CONFIG REWRITE undoes what Sentinel's own rewrite on
// re-pointing the replica wrote). Sentinel reads the priorities from the
// replicas' INFO every 10 s: preferReplica waits until h.sent reports
// them. restore is never nil.
func preferReplica(ctx context.Context, h *handover) (restore func(), err error) {
	info, err := h.redis.Info(ctx, "replication")
	if err != nil {
		return func() {}, fmt.Errorf("ask the master %s: %w", h.master, err)
	}
	target := redisnode.Dial(h.to, h.password)
	prio, err := target.Redis().ConfigGet(ctx, prioritySetting).Result()
	target.Close()
	if err != nil {
		return func() {}, fmt.Errorf("read %s of %s: %w", prioritySetting, h.to, err)
	}
	if prio[prioritySetting] == "0" {
		return func() {}, fmt.Errorf("--to %s has %s 0: Sentinel never promotes it", h.to, prioritySetting)
	}
	old := map[string]string{}
	restore = func() {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for addr, v := range old {
			c := redisnode.Dial(addr, h.password)
			err := c.Redis().ConfigSet(rctx, prioritySetting, v).Err()
			if err == nil {
				err = c.Redis().ConfigRewrite(rctx).Err()
			}
			c.Close()
			if err != nil {
				h.log.Warn("set the replica's priority back", "replica", addr, prioritySetting, v, "error", err)
			}
		}
	}
	for _, r := range onlineReplicas(info) {
		if r.Addr() == h.to {
			continue
		}
		c := redisnode.Dial(r.Addr(), h.password)
		err := lowerPriority(ctx, c, old)
		c.Close()
		if err != nil {
			return restore, err
		}
	}
	if len(old) == 0 {
		return restore, nil
	}
	h.log.Info("waiting for the sentinel to read the replicas' priorities (it reads them every 10 s)", "to", h.to)
	wctx, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	return restore, waitPriorities(wctx, h, old)
}

// lowerPriority sets replica-priority 0 on c, remembering the old value.
func lowerPriority(ctx context.Context, c *redisnode.Client, old map[string]string) error {
	cur, err := c.Redis().ConfigGet(ctx, prioritySetting).Result()
	if err != nil {
		return fmt.Errorf("read %s of %s: %w", prioritySetting, c.Addr(), err)
	}
	if cur[prioritySetting] == "0" {
		return nil
	}
	if err := c.Redis().ConfigSet(ctx, prioritySetting, "0").Err(); err != nil {
		return fmt.Errorf("set %s 0 on %s: %w", prioritySetting, c.Addr(), err)
	}
	old[c.Addr()] = cur[prioritySetting]
	return nil
}

// waitPriorities waits until h.sent lists each replica in lowered with
// priority 0.
func waitPriorities(ctx context.Context, h *handover, lowered map[string]string) error {
	for {
		rs, err := h.sent.Replicas(ctx, MasterName)
		if err == nil {
			seen := 0
			for _, r := range rs {
				if _, ok := lowered[r.Addr()]; ok && r.Fields["slave-priority"] == "0" {
					seen++
				}
			}
			if seen == len(lowered) {
				return nil
			}
		}
		if serr := ctxtime.Sleep(ctx, 200*time.Millisecond); serr != nil {
			return fmt.Errorf("wait for the sentinel %s to see the other replicas' %s 0: %w", h.sent.Addr(), prioritySetting, serr)
		}
	}
}
