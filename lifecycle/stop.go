package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// handoverPoll is how often the hand-over looks at offsets and Sentinel.
var handoverPoll = 50 * time.Millisecond

// Stop is preStop done right (DESIGN rule 9): a master with a healthy
// replica hands over first, then this node's services are deregistered,
// then sentinel and redis stop (redis saves on SIGTERM). Other sentinels are
// not reset here: see ForgetDeparted.
func (n *Node) Stop(ctx context.Context) error {
	if n.redisChild != nil && n.redisChild.Running() {
		hctx, cancel := context.WithTimeout(ctx, n.o.HandoverTimeout)
		if err := n.handOver(hctx); err != nil {
			n.log.Warn("hand-over before stop failed; stopping anyway", "error", err)
		}
		cancel()
	}
	var errs []error
	for _, s := range []struct {
		name string
		port int
	}{{ServiceMaster, n.o.RedisPort}, {ServiceReplica, n.o.RedisPort}, {ServiceSentinel, n.o.SentinelPort}} {
		if err := n.o.Reg.Deregister(ctx, registry.ServiceID(s.name, n.o.AdvertiseAddr, s.port)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		n.log.Info("registry changed", "from", "registered", "to", "(none)", "reason", "node stopping")
	}
	if n.lock != nil {
		_ = n.lock.Release(ctx)
		n.lock = nil
	}
	errs = append(errs, n.stopChildren(ctx))
	return errors.Join(errs...)
}

// stopChildren stops sentinel, then redis, each within its grace period.
func (n *Node) stopChildren(ctx context.Context) error {
	var errs []error
	for _, c := range []**supervisor.Child{&n.sentChild, &n.redisChild} {
		if *c == nil {
			continue
		}
		if err := (*c).Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", (*c).Name(), err))
		}
		*c = nil
	}
	return errors.Join(errs...)
}

// handOver moves the master role to a replica before this master stops,
// losing no acknowledged write: it pauses writes (clients block, nothing is
// acknowledged), waits until every online replica has the master's whole
// offset, asks the local sentinel to fail over, and waits until the
// sentinels name another master. The writes stay paused: redis shuts down
// next, and the blocked writers see their connection close, not an OK.
func (n *Node) handOver(ctx context.Context) error {
	info, err := n.redis.Info(ctx, "replication")
	if err != nil || info.Role() != redisnode.RoleMaster {
		return err
	}
	if online := onlineReplicas(info); len(online) == 0 {
		n.log.Info("no online replica to hand over to; stopping as master")
		return nil
	}
	deadline, _ := ctx.Deadline()
	pause := time.Until(deadline) + 2*time.Second
	rc := n.redis.Redis()
	if err := rc.Do(ctx, "CLIENT", "PAUSE", pause.Milliseconds(), "WRITE").Err(); err != nil {
		return fmt.Errorf("pause writes: %w", err)
	}
	n.log.Info("handing over: writes paused", "for", pause.Round(time.Millisecond))
	if err := n.waitReplicasCaughtUp(ctx); err != nil {
		rc.Do(context.Background(), "CLIENT", "UNPAUSE")
		return err
	}
	for {
		err := n.sent.Failover(ctx, MasterName)
		if err == nil {
			break
		}
		n.log.Debug("SENTINEL FAILOVER refused; retrying", "error", err)
		if serr := sleepCtx(ctx, 200*time.Millisecond); serr != nil {
			rc.Do(context.Background(), "CLIENT", "UNPAUSE")
			return fmt.Errorf("sentinel failover: %w", err)
		}
	}
	// Wait until the local sentinel, the failover's leader, has finished
	// it, and a majority of the sentinels name the new master: sentinels
	// that have not heard of the switch would see this master go down and
	// fail over a second time.
	addrs, err := n.sentinelAddrs(ctx)
	if err != nil {
		rc.Do(context.Background(), "CLIENT", "UNPAUSE")
		return err
	}
	for {
		m, err := n.askSentinels(ctx, addrs)
		if err == nil && m != n.self && n.failoverEnded(ctx) {
			n.log.Info("handed over", "new_master", m, "sentinels", len(addrs))
			return nil
		}
		if serr := sleepCtx(ctx, handoverPoll); serr != nil {
			rc.Do(context.Background(), "CLIENT", "UNPAUSE")
			return fmt.Errorf("wait for a majority of %d sentinels to name a new master: %w", len(addrs), serr)
		}
	}
}

func onlineReplicas(info redisnode.Info) []redisnode.Replica {
	var out []redisnode.Replica
	for _, r := range info.Replicas() {
		if r.State == "online" {
			out = append(out, r)
		}
	}
	return out
}

// waitReplicasCaughtUp waits until every online replica acknowledged the
// master's offset.
func (n *Node) waitReplicasCaughtUp(ctx context.Context) error {
	for {
		info, err := n.redis.Info(ctx, "replication")
		if err != nil {
			return err
		}
		behind := 0
		for _, r := range onlineReplicas(info) {
			if r.Offset < info.MasterReplOffset() {
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if err := sleepCtx(ctx, handoverPoll); err != nil {
			return fmt.Errorf("wait for %d replicas to catch up: %w", behind, err)
		}
	}
}

// failoverEnded reports whether the local sentinel has no failover in
// progress and no longer names this node master.
func (n *Node) failoverEnded(ctx context.Context) bool {
	m, err := n.sent.Master(ctx, MasterName)
	if err != nil {
		return false
	}
	return m.Addr() != n.self && !m.HasFlag("failover_in_progress")
}
