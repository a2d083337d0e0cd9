package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// Registry is what a node asks of Consul: *registry.Registry, tested
// against a real agent there; the node's tick is tested against a fake.
type Registry interface {
	Catalog
	KV
	// LocalServiceIDs are the services on the local agent;
	// LocalNodeInCatalog what the servers' catalog holds for its node.
	LocalServiceIDs(ctx context.Context) (map[string]bool, error)
	LocalNodeInCatalog(ctx context.Context) (registry.CatalogView, error)
	Register(ctx context.Context, s registry.Service) error
	Deregister(ctx context.Context, serviceID string) error
	Pass(ctx context.Context, serviceID, note string) error
	Fail(ctx context.Context, serviceID, note string) error
	// MarkCritical sets another node's service critical in the catalog.
	MarkCritical(ctx context.Context, in registry.Instance, note string) error
	Put(ctx context.Context, key, value string) error
	// Join has the local agent join the Consul servers at addrs.
	Join(ctx context.Context, addrs []string) error
	WatchKey(ctx context.Context, key string, index uint64, wait time.Duration, maxValue int) (registry.KeyState, error)
}

// Children starts the node's long-lived children: *supervisor.Supervisor.
type Children interface {
	Add(spec supervisor.ChildSpec) (*supervisor.Child, error)
}

// Runner runs one-shot commands to their end: *supervisor.Supervisor.
type Runner interface {
	Run(ctx context.Context, cmd supervisor.Command) (supervisor.Result, error)
}

// ConsulLocker takes locks as registry's *Lock, for NodeOptions.Locker.
type ConsulLocker struct{ Reg *registry.Registry }

// Acquire blocks until it holds key (see registry.Registry.Acquire).
func (a ConsulLocker) Acquire(ctx context.Context, key, holder string) (Lock, error) {
	l, err := a.Reg.Acquire(ctx, key, holder)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// peers is what a tick asks of the local redis and of the sentinels;
// netPeers asks them over the network, the tick's tests a fake.
type peers interface {
	// Info is the local redis's INFO.
	Info(ctx context.Context) (redisnode.Info, error)
	// PingSentinel pings the local sentinel.
	PingSentinel(ctx context.Context) error
	// Ask asks the sentinels at addrs for MasterName's master and flags,
	// and with replicas for each one's replicas of it too.
	Ask(ctx context.Context, addrs []string, replicas bool) (sentinel.View, error)
	// ProbeMaster returns nil when the redis at addr answers as master.
	ProbeMaster(ctx context.Context, addr string) error
	// FenceSetting reads the local redis's fence setting; SetFenceSetting
	// changes it.
	FenceSetting(ctx context.Context) (string, error)
	SetFenceSetting(ctx context.Context, value string) error
	// Follow follows the events of the sentinel at addr until ctx ends.
	Follow(ctx context.Context, addr string)
	// ReplicaOf makes the local redis a replica of master ("ip:port");
	// RewriteConfig writes its running settings into redis.conf.
	ReplicaOf(ctx context.Context, master string) error
	RewriteConfig(ctx context.Context) error
}

// netPeers are the node's redis and sentinels, over the network.
type netPeers struct{ n *Node }

func (p netPeers) Info(ctx context.Context) (redisnode.Info, error) { return p.n.redis.Info(ctx) }
func (p netPeers) PingSentinel(ctx context.Context) error           { return p.n.sent.Ping(ctx) }
func (p netPeers) Ask(ctx context.Context, addrs []string, replicas bool) (sentinel.View, error) {
	if replicas {
		return sentinel.AskWithReplicas(ctx, addrs, MasterName, p.n.o.Password)
	}
	return sentinel.Ask(ctx, addrs, MasterName, p.n.o.Password)
}
func (p netPeers) ProbeMaster(ctx context.Context, addr string) error {
	return p.n.probeMaster(ctx, addr)
}
func (p netPeers) FenceSetting(ctx context.Context) (string, error) {
	cur, err := p.n.redis.Redis().ConfigGet(ctx, fenceSetting).Result()
	return cur[fenceSetting], err
}
func (p netPeers) SetFenceSetting(ctx context.Context, value string) error {
	return p.n.redis.Redis().ConfigSet(ctx, fenceSetting, value).Err()
}
func (p netPeers) Follow(ctx context.Context, addr string) { p.n.followSentinel(ctx, addr) }
func (p netPeers) ReplicaOf(ctx context.Context, master string) error {
	return p.n.replicaOf(ctx, master)
}
func (p netPeers) RewriteConfig(ctx context.Context) error {
	if err := p.n.redis.Redis().ConfigRewrite(ctx).Err(); err != nil {
		return fmt.Errorf("config rewrite on the local redis: %w", err)
	}
	return nil
}
