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

// Stop is preStop done right (docs/ARCHITECTURE.md rule 9): a master with
// a healthy replica hands over first, then this node's services are
// deregistered, then sentinel and redis stop (redis saves on SIGTERM).
// Other sentinels are not reset here: package forget does that later.
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
	}{{registry.ServiceMaster, n.o.RedisPort}, {registry.ServiceReplica, n.o.RedisPort}, {registry.ServiceSentinel, n.o.SentinelPort}} {
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
// losing no acknowledged write (see handover): it waits until the local
// sentinel knows a replica it can promote, then fences, waits for the
// replicas, asks the local sentinel to fail over, and waits until a
// majority of the other sentinels — the ones that outlive this node — name
// the new master. Stopping sooner would let sentinels that have not heard
// of the switch see this master go down and fail over a second time. The
// fence stays up, also when the hand-over fails: redis shuts down next,
// and a master that took writes again after a failover had started would
// lose them to the new master (found by the reliability suite's
// restart-all).
func (n *Node) handOver(ctx context.Context) error {
	info, err := n.redis.Info(ctx, "replication")
	if err != nil || info.Role() != redisnode.RoleMaster {
		return err
	}
	if online := onlineReplicas(info); len(online) == 0 {
		n.log.Info("no online replica to hand over to; stopping as master")
		return nil
	}
	h := n.handover()
	// Wait for a replica Sentinel can promote, with writes still flowing,
	// before fencing them.
	deadline, _ := ctx.Deadline()
	kctx, cancel := context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/2))
	err = h.waitSentinelKnowsReplica(kctx)
	cancel()
	if err != nil {
		return err
	}
	_, err = h.run(ctx)
	return err
}

// handover is the hand-over of this node's redis through the local
// sentinel, confirmed by the other passing sentinels.
func (n *Node) handover() *handover {
	return &handover{
		log: n.log, master: n.self, redis: n.redis, sent: n.sent, password: n.o.Password,
		askTimeout: n.askTimeout(),
		fence: func(ctx context.Context) error {
			return n.setFence(ctx, true, "handing the master role over before stopping")
		},
		confirmers: func(ctx context.Context) ([]string, error) {
			addrs, err := n.sentinelAddrs(ctx, true)
			if err != nil {
				return nil, err
			}
			return addrs[1:], nil // sentinelAddrs lists the local one first
		},
	}
}
