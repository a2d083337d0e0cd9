package pitr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/hashicorp/go-hclog"
)

// Consul keys of point-in-time recovery.
const (
	// KeyLock is held by the node that ships.
	KeyLock = "service/redis/locks/pitr"
	// KeyProgress holds the shipping node's Status as JSON.
	KeyProgress = "service/redis/pitr/progress"
	// DefaultCheck is how often a node that does not ship looks again.
	DefaultCheck = 5 * time.Second
)

// Registry is what cluster shipping needs of Consul (registry.Registry).
type Registry interface {
	TryAcquire(ctx context.Context, key, holder string) (*registry.Lock, bool, error)
	Instances(ctx context.Context, name string, passingOnly bool) ([]registry.Instance, error)
	Put(ctx context.Context, key, value string) error
	parentRegistry
}

// ClusterOptions configure RunCluster.
type ClusterOptions struct {
	Shipper  ShipperOptions
	Registry Registry
	// Node is this node's redis role (redisnode.RoleMaster or RoleReplica)
	// and health (backup.RedisNodeState).
	Node func(ctx context.Context) (role string, healthy bool)
	// Check is how often the node looks at the lock and its health;
	// default DefaultCheck.
	Check time.Duration
	Log   hclog.Logger
	// Shipping, when set, is given the shipper while this node ships
	// (nil when it stops), for status and metrics.
	Shipping func(*Shipper)
}

// RunCluster ships the AOF from one node of the cluster at a time: the
// holder of KeyLock. A healthy replica takes it; the master takes it only
// while no replica passes. The holder ships until the lock is lost, it is
// no longer healthy, or ctx ends; its chain then ends, and the next holder
// starts a new one. Each decision is logged when it changes.
func RunCluster(ctx context.Context, o ClusterOptions) error {
	if o.Registry == nil || o.Node == nil {
		return fmt.Errorf("%w: Registry and Node are required", ErrInvalidOptions)
	}
	o.Check = cmpOr(o.Check, DefaultCheck)
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Shipping == nil {
		o.Shipping = func(*Shipper) {}
	}
	last := ""
	for {
		reason, err := clusterTick(ctx, o)
		switch {
		case err != nil && ctx.Err() == nil:
			o.Log.Error("point-in-time shipping failed", "error", err)
			last = ""
		case err == nil && reason != last:
			o.Log.Info(reason)
			last = reason
		}
		if err := ctxtime.Sleep(ctx, o.Check); err != nil {
			return err
		}
	}
}

func clusterTick(ctx context.Context, o ClusterOptions) (string, error) {
	role, healthy := o.Node(ctx)
	if !healthy {
		return "This node is not healthy; it does not ship the AOF.", nil
	}
	if role == redisnode.RoleMaster {
		replicas, err := o.Registry.Instances(ctx, registry.ServiceReplica, true)
		if err != nil {
			return "", fmt.Errorf("look for passing replicas: %w", err)
		}
		if len(replicas) > 0 {
			return "The master leaves shipping the AOF to a passing replica.", nil
		}
	}
	lock, held, err := o.Registry.TryAcquire(ctx, KeyLock, o.Shipper.Holder)
	if err != nil {
		return "", fmt.Errorf("acquire %s: %w", KeyLock, err)
	}
	if !held {
		return "Another node ships the AOF.", nil
	}
	defer func() {
		if err := lock.Release(context.WithoutCancel(ctx)); err != nil {
			o.Log.Warn("could not release the shipping lock; it lapses with its session", "error", err)
		}
	}()
	why, err := shipLocked(ctx, o, lock)
	if err != nil {
		return "", err
	}
	return "This node stopped shipping the AOF: " + why + ".", nil
}

// shipLocked ships while the lock is held and the node healthy, writing
// progress to Consul every Check; it returns why it stopped.
func shipLocked(ctx context.Context, o ClusterOptions, lock *registry.Lock) (string, error) {
	if o.Shipper.Parent = readParent(ctx, o); o.Shipper.Parent.Valid() {
		o.Shipper.ParentRecorded = parentRecorded(ctx, o)
	}
	sh, err := NewShipper(o.Shipper)
	if err != nil {
		return "", err
	}
	o.Log.Info("this node ships the AOF")
	o.Shipping(sh)
	defer o.Shipping(nil)
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sh.Run(sctx)
	}()
	t := time.NewTicker(o.Check)
	defer t.Stop()
	for {
		select {
		case <-lock.Lost():
			cancel(errors.New("the shipping lock was lost"))
		case <-ctx.Done():
			cancel(ctx.Err())
		case <-done:
			return context.Cause(sctx).Error(), nil
		case <-t.C:
			if why := stopShipping(sctx, o); why != "" {
				cancel(errors.New(why))
			}
			writeProgress(sctx, o, sh)
		}
	}
}

// stopShipping says why the shipping node should stop: it is not healthy,
// or it is the master and a replica passes (a master that took the lock
// while it was alone hands shipping over, so that a failover does not
// take the shipper down with the master). "" to go on.
func stopShipping(ctx context.Context, o ClusterOptions) string {
	role, healthy := o.Node(ctx)
	if !healthy {
		return "this node is not healthy"
	}
	if role != redisnode.RoleMaster {
		return ""
	}
	replicas, err := o.Registry.Instances(ctx, registry.ServiceReplica, true)
	if err == nil && len(replicas) > 0 {
		return "this node is the master and a replica passes; the replica ships"
	}
	return ""
}

func writeProgress(ctx context.Context, o ClusterOptions, sh *Shipper) {
	st, ok := sh.Status()
	if !ok {
		return
	}
	b, err := json.Marshal(st)
	if err == nil {
		err = o.Registry.Put(ctx, KeyProgress, string(b))
	}
	if err != nil && ctx.Err() == nil {
		o.Log.Warn("could not record shipping progress in Consul", "error", err)
	}
}
