package lifecycle

import (
	"context"
	"fmt"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
)

// fenceReplicas is set as min-replicas-to-write to fence writes (see
// redisnode.FenceValue; the departed-node cleanup reads it to tell a
// master being handed over). CLIENT PAUSE WRITE is not used: it also
// blocks Sentinel's hello PUBLISH, the sentinels then see the master as
// down and run a failover of their own.
const fenceReplicas = redisnode.FenceValue

const fenceSetting = redisnode.FenceSetting

// fence makes the local redis's write fence what a tick decided. It reads
// the setting every time rather than trusting memory: a redis restarted by
// the supervisor comes up without a fence, and Sentinel's CONFIG REWRITE
// on a failover may have written one into redis.conf. Errors are logged;
// the next tick tries again.
func (n *Node) fence(ctx context.Context, on bool, why string) {
	if err := n.setFence(ctx, on, why); err != nil {
		n.log.Warn("set the write fence", "fence", on, "error", err)
	}
}

// setFence raises or lifts the fence, remembering the value it replaced.
func (n *Node) setFence(ctx context.Context, on bool, why string) error {
	value, err := n.peers.FenceSetting(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", fenceSetting, err)
	}
	if (value == fenceReplicas) == on {
		n.mu.Lock()
		reported := n.fenceReported == on
		n.mu.Unlock()
		if !reported { // set by a set whose reply was lost, or by a redis.conf Sentinel rewrote
			n.reportFence(on, why, value)
		}
		return nil
	}
	n.mu.Lock()
	want := n.unfenced
	if on {
		n.unfenced = value
		want = fenceReplicas
	}
	n.mu.Unlock()
	if want == "" {
		want = "0"
	}
	if err := n.peers.SetFenceSetting(ctx, want); err != nil {
		// The setting may have taken with its reply lost: Sentinel's
		// CLIENT KILL TYPE normal on a failover closes the connection
		// (make matrix on Valkey 8.1 saw writes refused and no "writes
		// fenced" in the log). Look before calling it a failure.
		if cur, gerr := n.peers.FenceSetting(ctx); gerr != nil || cur != want {
			return fmt.Errorf("set %s %s: %w", fenceSetting, want, err)
		}
	}
	n.reportFence(on, why, want)
	return nil
}

// reportFence logs the fence's new state and reports it to Events.
func (n *Node) reportFence(on bool, why, value string) {
	n.mu.Lock()
	n.fenceReported = on
	n.mu.Unlock()
	if on {
		n.log.Warn("writes fenced: redis refuses writes (NOREPLICAS)", "reason", why)
	} else {
		n.log.Info("write fence lifted", "min_replicas_to_write", value)
	}
	n.o.Events.Fenced(on)
}
