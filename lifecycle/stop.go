package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"

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
// losing no acknowledged write: it fences writes, waits until every online
// replica has the offset reached when the fence went up, asks the local
// sentinel to fail over, and waits until that failover has ended and a
// majority of sentinels name the new master. The fence stays up, also when
// the hand-over fails: redis shuts down next, and a master that took writes
// again after a failover had started would lose them to the new master
// (found by the reliability suite's restart-all).
func (n *Node) handOver(ctx context.Context) (err error) {
	info, err := n.redis.Info(ctx, "replication")
	if err != nil || info.Role() != redisnode.RoleMaster {
		return err
	}
	if online := onlineReplicas(info); len(online) == 0 {
		n.log.Info("no online replica to hand over to; stopping as master")
		return nil
	}
	// Sentinel learns of replicas from the master's INFO every 10 s; one
	// that joined moments ago is not a candidate yet. Wait for one, with
	// writes still flowing, before fencing them.
	deadline, _ := ctx.Deadline()
	kctx, cancel := context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/2))
	err = n.waitSentinelKnowsReplica(kctx)
	cancel()
	if err != nil {
		return err
	}
	if err := n.setFence(ctx, true, "handing the master role over before stopping"); err != nil {
		return err
	}
	fenced, err := n.redis.Info(ctx, "replication")
	if err != nil {
		return err
	}
	n.log.Info("handing over: writes fenced", "offset", fenced.MasterReplOffset())
	if err := n.waitReplicasCaughtUp(ctx, fenced.MasterReplOffset()); err != nil {
		return err
	}
	n.log.Info("handing over: replicas have every acknowledged write; asking sentinel to fail over")
	if err := n.requestFailover(ctx); err != nil {
		return err
	}
	n.log.Info("handing over: failover started; waiting for the sentinels to agree on the new master")
	return n.waitHandedOver(ctx)
}

// requestFailover asks the local sentinel to fail over, unless the
// sentinels have already moved on from this node.
func (n *Node) requestFailover(ctx context.Context) error {
	for {
		m, err := n.sent.GetMasterAddr(ctx, MasterName)
		if err == nil && m != n.self {
			return nil
		}
		err = n.sent.Failover(ctx, MasterName)
		if err == nil {
			return nil
		}
		n.log.Info("SENTINEL FAILOVER refused; retrying", "error", err)
		if serr := ctxtime.Sleep(ctx, 200*time.Millisecond); serr != nil {
			return fmt.Errorf("sentinel failover: %w", err)
		}
	}
}

// waitHandedOver waits until a majority of the other sentinels — the ones
// that outlive this node — name the new master. Stopping sooner would let
// sentinels that have not heard of the switch see this master go down and
// fail over a second time. (The local sentinel, the failover's leader,
// reports the failover in progress until every replica has re-synced;
// that need not be waited for.)
func (n *Node) waitHandedOver(ctx context.Context) error {
	addrs, err := n.sentinelAddrs(ctx, true)
	if err != nil {
		return err
	}
	others := addrs[1:] // sentinelAddrs lists the local one first
	if len(others) == 0 {
		return errors.New("no other sentinel is registered to confirm the new master")
	}
	for {
		m, err := n.askSentinels(ctx, others)
		if err == nil && m != n.self {
			n.log.Info("handed over", "new_master", m, "other_sentinels", len(others))
			return nil
		}
		if serr := ctxtime.Sleep(ctx, handoverPoll); serr != nil {
			return fmt.Errorf("wait for a majority of the %d other sentinels to name a new master: %w", len(others), serr)
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

// waitReplicasCaughtUp waits until every online replica acknowledged
// offset.
func (n *Node) waitReplicasCaughtUp(ctx context.Context, offset int64) error {
	for {
		info, err := n.redis.Info(ctx, "replication")
		if err != nil {
			return err
		}
		behind := 0
		for _, r := range onlineReplicas(info) {
			if r.Offset < offset {
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if err := ctxtime.Sleep(ctx, handoverPoll); err != nil {
			return fmt.Errorf("wait for %d replicas to reach offset %d: %w", behind, offset, err)
		}
	}
}

// waitSentinelKnowsReplica waits until the local sentinel lists a replica
// it could promote: connected, not down, with its link to this master up.
func (n *Node) waitSentinelKnowsReplica(ctx context.Context) error {
	for {
		rs, err := n.sent.Replicas(ctx, MasterName)
		if err == nil {
			for _, r := range rs {
				if !r.Down() && !r.HasFlag("disconnected") && r.Fields["master-link-status"] == "ok" {
					return nil
				}
			}
		}
		if serr := ctxtime.Sleep(ctx, handoverPoll); serr != nil {
			return fmt.Errorf("wait for the sentinel to know a replica it can promote: %w", serr)
		}
	}
}
