package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// PlannedOptions configure PlannedFailover.
type PlannedOptions struct {
	Log      hclog.Logger
	Reg      *registry.Registry
	Password string
	// Sentinel is the sentinel asked to fail over ("host:port" as this
	// process reaches it: the local one).
	Sentinel string
	// To is the replica to promote ("ip:port"); "" lets Sentinel choose.
	To string
	// By says who runs the failover, for the master's log.
	By string
	// Timeout bounds the whole failover; default 60 s.
	Timeout time.Duration
	// FenceTimeout bounds the wait for the master's node to fence (or
	// unfence) its writes; default 10 s.
	FenceTimeout time.Duration
}

// ErrNotHandedOver is wrapped by PlannedFailover's error when the master
// was not handed over and serves writes again.
var ErrNotHandedOver = errors.New("the master was not handed over")

// PlannedFailover hands the master role over the way a master does before
// it stops (see handover), from any node: it finds the master through the
// sentinels registered in Consul, holds registry.KeyFailoverLock so that the
// master's node fences its writes (and keeps them fenced, whatever its
// reconcile tick sees) while it waits for the replicas and asks o.Sentinel
// for SENTINEL FAILOVER, waits until a majority of the registered
// sentinels and Consul name the new master, makes the old master its
// replica and lets go of the key (the old master's node then lifts the
// fence). It returns the new master.
//
// When it cannot hand over before SENTINEL FAILOVER was accepted (no
// replica, --to not an online replica, a replica that does not catch up)
// it lets go of the key, waits until the old master's node has lifted the
// fence, and returns an error wrapping ErrNotHandedOver.
func PlannedFailover(ctx context.Context, o PlannedOptions) (string, error) {
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.FenceTimeout <= 0 {
		o.FenceTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	sentinels := func(ctx context.Context) ([]string, error) { return registeredSentinels(ctx, o.Reg) }
	all, err := sentinels(ctx)
	if err != nil {
		return "", err
	}
	actx, acancel := context.WithTimeout(ctx, 2*time.Second)
	master, _, err := sentinel.AskMajority(actx, all, MasterName, o.Password)
	acancel()
	if err != nil {
		return "", fmt.Errorf("find the master through the %d registered sentinels: %w", len(all), err)
	}
	rc := redisnode.Dial(master, o.Password)
	defer rc.Close()
	sc := sentinel.Dial(o.Sentinel, o.Password)
	defer sc.Close()
	h := &handover{log: o.Log, master: master, redis: rc, sent: sc, password: o.Password,
		askTimeout: 2 * time.Second, to: o.To, confirmers: sentinels, catchUp: o.FenceTimeout}
	if err := checkCandidates(ctx, h); err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotHandedOver, err)
	}
	if o.To != "" {
		restore, err := preferReplica(ctx, h)
		defer restore()
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNotHandedOver, err)
		}
	}
	kctx, kcancel := context.WithTimeout(ctx, 15*time.Second)
	err = h.waitSentinelKnowsReplica(kctx)
	kcancel()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotHandedOver, err)
	}
	kctx, kcancel = context.WithTimeout(ctx, 15*time.Second)
	if err := waitReplicaRolesSeen(kctx, all, o.Password); err != nil {
		o.Log.Warn("going on; the failover may be aborted", "error", err)
	}
	kcancel()
	return plannedHandOver(ctx, o, h)
}

// plannedHandOver holds registry.KeyFailoverLock for the hand-over and finishes it.
func plannedHandOver(ctx context.Context, o PlannedOptions, h *handover) (string, error) {
	value, _ := json.Marshal(PlannedRequest{Master: h.master, To: h.to, By: o.By})
	lock, held, err := o.Reg.TryAcquire(ctx, registry.KeyFailoverLock, string(value))
	if err != nil {
		return "", fmt.Errorf("%w: take %s: %w", ErrNotHandedOver, registry.KeyFailoverLock, err)
	}
	if !held {
		return "", fmt.Errorf("%w: another planned failover holds %s; run it again when that one has ended", ErrNotHandedOver, registry.KeyFailoverLock)
	}
	release := func() {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := lock.Release(rctx); err != nil {
			o.Log.Warn("release the planned failover lock; its session expires by itself", "key", registry.KeyFailoverLock, "error", err)
		}
	}
	h.fence = func(ctx context.Context) error {
		fctx, cancel := context.WithTimeout(ctx, o.FenceTimeout)
		defer cancel()
		if err := waitFence(fctx, h.redis, true); err != nil {
			return fmt.Errorf("the master's node did not fence its writes (is its supervisor running? see redis-autopilot status there): %w", err)
		}
		return nil
	}
	newMaster, err := h.run(ctx)
	if err == nil {
		err = finishPlanned(ctx, o, h, newMaster)
	}
	release()
	if err != nil && (!h.requested || errors.Is(err, errFailoverAborted)) {
		uctx, cancel := context.WithTimeout(context.Background(), o.FenceTimeout)
		defer cancel()
		if uerr := waitFence(uctx, h.redis, false); uerr != nil {
			return "", fmt.Errorf("%w, and its writes are still fenced (%w): %w", ErrNotHandedOver, uerr, err)
		}
		return "", fmt.Errorf("%w; it serves writes again: %w", ErrNotHandedOver, err)
	}
	if err != nil {
		return newMaster, fmt.Errorf("the sentinels were asked to fail %s over, but: %w (the old master's node keeps its writes fenced while the sentinels fail it over; see redis-autopilot status)", h.master, err)
	}
	uctx, cancel := context.WithTimeout(ctx, o.FenceTimeout)
	defer cancel()
	if err := waitFence(uctx, h.redis, false); err != nil {
		o.Log.Warn("the old master is a replica but its node has not lifted the fence yet", "old_master", h.master, "error", err)
	}
	return newMaster, nil
}

// finishPlanned waits until Consul lists newMaster as the passing redis,
// then makes the old master its replica (Sentinel would, only about 8 s
// after the switch) and waits until it reports so.
func finishPlanned(ctx context.Context, o PlannedOptions, h *handover, newMaster string) error {
	for {
		ins, err := o.Reg.Instances(ctx, registry.ServiceMaster, true)
		if err == nil && len(ins) == 1 && instance(ins[0]).addr() == newMaster {
			break
		}
		if serr := ctxtime.Sleep(ctx, handoverPoll); serr != nil {
			return fmt.Errorf("wait for Consul to list %s as the passing redis: %w", newMaster, serr)
		}
	}
	o.Log.Info("Consul lists the new master", "new_master", newMaster)
	host, p, err := splitAddr(newMaster)
	if err != nil {
		return err
	}
	for {
		info, err := h.redis.Info(ctx, "replication")
		if err == nil && info.Role() == redisnode.RoleReplica {
			o.Log.Info("the old master is a replica", "old_master", h.master, "master", newMaster)
			return nil
		}
		if err == nil && info.Role() == redisnode.RoleMaster {
			if rerr := h.redis.ReplicaOf(ctx, host, p); rerr != nil {
				o.Log.Warn("make the old master a replica; Sentinel will", "error", rerr)
			}
		}
		if serr := ctxtime.Sleep(ctx, handoverPoll); serr != nil {
			return fmt.Errorf("wait for the old master %s to become a replica of %s: %w", h.master, newMaster, serr)
		}
	}
}

// checkCandidates checks that h.master is a master with an online replica
// (h.to among them when set).
func checkCandidates(ctx context.Context, h *handover) error {
	info, err := h.redis.Info(ctx, "replication")
	if err != nil {
		return fmt.Errorf("ask the master %s: %w", h.master, err)
	}
	if info.Role() != redisnode.RoleMaster {
		return fmt.Errorf("the sentinels name %s master, but it reports role %s; try again in a few seconds", h.master, info.RedisRole())
	}
	online := onlineReplicas(info)
	if len(online) == 0 {
		return fmt.Errorf("the master %s has no online replica to hand over to", h.master)
	}
	if h.to == "" {
		return nil
	}
	var names []string
	for _, r := range online {
		if r.Addr() == h.to {
			return nil
		}
		names = append(names, r.Addr())
	}
	return fmt.Errorf("--to %s is not an online replica of the master %s (its online replicas: %s)", h.to, h.master, strings.Join(names, ", "))
}

// waitFence waits until the fence on rc is up (on) or down.
func waitFence(ctx context.Context, rc *redisnode.Client, on bool) error {
	for {
		cur, err := rc.Redis().ConfigGet(ctx, fenceSetting).Result()
		if err == nil && (cur[fenceSetting] == fenceReplicas) == on {
			return nil
		}
		if serr := ctxtime.Sleep(ctx, 20*time.Millisecond); serr != nil {
			if err != nil {
				return fmt.Errorf("read %s on %s: %w", fenceSetting, rc.Addr(), err)
			}
			return fmt.Errorf("%s on %s is %q: %w", fenceSetting, rc.Addr(), cur[fenceSetting], serr)
		}
	}
}

// waitReplicaRolesSeen waits until no sentinel that answers still takes
// one of the master's replicas for a master. A sentinel reads a replica's
// INFO every 10 s: right after a failover it may not yet have seen the old
// master turn replica, and when that node is promoted again it takes it
// for a master that has reported so for longer than 8 s and re-points it
// at once, which aborts the failover (found by the reliability suite's
// planned-failover-command, with failovers 10 s apart).
func waitReplicaRolesSeen(ctx context.Context, addrs []string, password string) error {
	for {
		stale := ""
		for _, a := range addrs {
			c := sentinel.Dial(a, password)
			actx, cancel := context.WithTimeout(ctx, time.Second)
			rs, err := c.Replicas(actx, MasterName)
			cancel()
			c.Close()
			for _, r := range rs {
				if err == nil && !r.Down() && r.Fields["role-reported"] == "master" {
					stale = fmt.Sprintf("sentinel %s still takes the replica %s for a master", a, r.Addr())
				}
			}
		}
		if stale == "" {
			return nil
		}
		if serr := ctxtime.Sleep(ctx, 200*time.Millisecond); serr != nil {
			return fmt.Errorf("%s: %w", stale, serr)
		}
	}
}

// registeredSentinels lists every sentinel registered in Consul.
func registeredSentinels(ctx context.Context, reg *registry.Registry) ([]string, error) {
	ins, err := reg.Instances(ctx, registry.ServiceSentinel, false)
	if err != nil {
		return nil, fmt.Errorf("list the sentinels registered in Consul: %w", err)
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("no sentinel is registered in Consul as %s", registry.ServiceSentinel)
	}
	out := make([]string, 0, len(ins))
	for _, in := range ins {
		out = append(out, instance(in).addr())
	}
	return out, nil
}
