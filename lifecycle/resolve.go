package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/registry"
)

// Catalog is the part of the registry start-up needs.
type Catalog interface {
	Instances(ctx context.Context, name string, passingOnly bool) ([]registry.Instance, error)
}

// Locker takes the bootstrap lock.
type Locker interface {
	Acquire(ctx context.Context, key, holder string) (Lock, error)
}

// Lock is a held Consul lock: Lost is closed when it is gone.
type Lock interface {
	Lost() <-chan struct{}
	Release(ctx context.Context) error
}

// SentinelView asks sentinels which node is the master of MasterName. It
// returns the address ("ip:port") a majority of addrs agree on, or an error
// that says what each answered.
type SentinelView func(ctx context.Context, addrs []string) (string, error)

// MasterProbe returns nil when a redis at addr answers and reports
// role:master.
type MasterProbe func(ctx context.Context, addr string) error

// Plan is the outcome of start-up's role resolution.
type Plan struct {
	Role Role
	// Master is "ip:port" of the master; this node's own for RoleMaster.
	Master string
	// Reason says why, in one sentence.
	Reason string
	// Lock is the held bootstrap lock when this node was elected under it;
	// the caller releases it once its `redis` service passes, and must step
	// back if Lost closes first.
	Lock Lock
}

// ResolverOptions configure a Resolver.
type ResolverOptions struct {
	Log     hclog.Logger
	Catalog Catalog
	Locker  Locker
	Ask     SentinelView
	Probe   MasterProbe
	// Self is this node's redis "ip:port"; SelfSentinel its sentinel's.
	Self, SelfSentinel string
	// HasData reports whether the local data directory holds data.
	HasData func() (bool, error)
	// LastMaster, when set, returns the last node that passed as master
	// ("" when none is recorded).
	LastMaster func(ctx context.Context) (string, error)
	// MasterWait bounds waiting for a registered, not passing `redis`
	// (MASTER_WAIT_TIMEOUT), and for Sentinels that still name this
	// data-less node as master to fail over.
	MasterWait time.Duration
}

// Resolver decides the role on start.
type Resolver struct{ o ResolverOptions }

// ErrInvalidOptions is wrapped by constructors given incomplete options.
var ErrInvalidOptions = errors.New("invalid options")

// NewResolver checks o and returns a Resolver.
func NewResolver(o ResolverOptions) (*Resolver, error) {
	switch {
	case o.Catalog == nil, o.Locker == nil, o.Ask == nil, o.Probe == nil, o.HasData == nil:
		return nil, fmt.Errorf("resolver: %w: Catalog, Locker, Ask, Probe and HasData are required", ErrInvalidOptions)
	case o.Self == "":
		return nil, fmt.Errorf("resolver: %w: Self is required", ErrInvalidOptions)
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	return &Resolver{o: o}, nil
}

// outcome of one look at Sentinel and Consul without the lock.
type lookup struct {
	plan *Plan  // decided
	wait string // nothing decided; wait and look again, for this reason
}

// Resolve returns this node's role. It blocks while a registered master is
// expected to pass (up to MasterWait) and while it waits for the bootstrap
// lock; ctx bounds it.
func (r *Resolver) Resolve(ctx context.Context) (Plan, error) {
	deadline := time.Now().Add(r.o.MasterWait)
	lastWait := ""
	for {
		l, err := r.look(ctx)
		if err != nil {
			return Plan{}, err
		}
		if l.plan != nil {
			return *l.plan, nil
		}
		if l.wait != "" && time.Now().Before(deadline) {
			if l.wait != lastWait {
				r.o.Log.Info("waiting before electing a master", "reason", l.wait, "up_to", time.Until(deadline).Round(time.Second))
				lastWait = l.wait
			}
			if err := ctxtime.Sleep(ctx, resolvePoll); err != nil {
				return Plan{}, err
			}
			continue
		}
		return r.elect(ctx, l.wait)
	}
}

// elect takes the bootstrap lock and looks once more under it.
func (r *Resolver) elect(ctx context.Context, waited string) (Plan, error) {
	r.o.Log.Info("no master found; taking the bootstrap lock", "key", registry.KeyMasterLock)
	lock, err := r.o.Locker.Acquire(ctx, registry.KeyMasterLock, r.o.Self)
	if err != nil {
		return Plan{}, fmt.Errorf("take the bootstrap lock %s: %w", registry.KeyMasterLock, err)
	}
	l, err := r.look(ctx)
	if err == nil && l.plan != nil {
		if rerr := lock.Release(ctx); rerr != nil {
			r.o.Log.Warn("release the bootstrap lock", "error", rerr)
		}
		return *l.plan, nil
	}
	if err != nil {
		_ = lock.Release(context.Background())
		return Plan{}, err
	}
	reason := "no master in Sentinel or Consul; elected master under the bootstrap lock"
	if waited != "" {
		reason = fmt.Sprintf("elected master under the bootstrap lock after waiting %s: %s", r.o.MasterWait, waited)
	}
	return Plan{Role: RoleMaster, Master: r.o.Self, Reason: reason, Lock: lock}, nil
}

// look asks Sentinel, then Consul, once.
func (r *Resolver) look(ctx context.Context) (lookup, error) {
	if l, ok, err := r.askSentinels(ctx); err != nil || ok {
		return l, err
	}
	passing, err := r.o.Catalog.Instances(ctx, registry.ServiceMaster, true)
	if err != nil {
		return lookup{}, err
	}
	for _, in := range others(passing, r.o.Self) {
		addr := in.addr()
		if err := r.o.Probe(ctx, addr); err != nil {
			r.o.Log.Warn("passing redis in Consul does not answer as master", "master", addr, "error", err)
			continue
		}
		return replicaOf(addr, "Consul lists %s as the passing redis master"), nil
	}
	all, err := r.o.Catalog.Instances(ctx, registry.ServiceMaster, false)
	if err != nil {
		return lookup{}, err
	}
	if o := others(all, r.o.Self); len(o) > 0 {
		return lookup{wait: fmt.Sprintf("redis %s is registered in Consul but not passing", o[0].addr())}, nil
	}
	return r.lastMaster(ctx)
}

// lastMaster gives the node that last passed as master the first chance
// at the bootstrap lock when the whole cluster starts again: it holds
// every acknowledged write, while a replica may have stopped before the
// master's last writes reached it, and the node elected first becomes
// everyone's source. Others wait (up to MasterWait) for it; it goes at
// once, unless its data directory is empty.
func (r *Resolver) lastMaster(ctx context.Context) (lookup, error) {
	if r.o.LastMaster == nil {
		return lookup{}, nil
	}
	last, err := r.o.LastMaster(ctx)
	if err != nil {
		return lookup{}, fmt.Errorf("read the last master from %s: %w", registry.KeyLastMaster, err)
	}
	switch {
	case last == "":
		return lookup{}, nil
	case last != r.o.Self:
		return lookup{wait: fmt.Sprintf("%s was the last master and has the newest data; giving it the first chance to come back", last)}, nil
	}
	has, err := r.o.HasData()
	if err != nil {
		return lookup{}, err
	}
	if !has {
		return lookup{wait: "this node was the last master but its data directory is empty; giving a node with data the first chance"}, nil
	}
	return lookup{}, nil
}

// askSentinels consults the sentinels registered in Consul. ok is true when
// the outcome is decided (a plan, or a reason to wait).
func (r *Resolver) askSentinels(ctx context.Context) (lookup, bool, error) {
	sentinels, err := r.o.Catalog.Instances(ctx, registry.ServiceSentinel, true)
	if err != nil {
		return lookup{}, false, err
	}
	var addrs []string
	for _, in := range others(sentinels, r.o.SelfSentinel) {
		addrs = append(addrs, in.addr())
	}
	if len(addrs) == 0 {
		return lookup{}, false, nil
	}
	master, err := r.o.Ask(ctx, addrs)
	if err != nil {
		r.o.Log.Info("sentinels gave no majority answer", "sentinels", len(addrs), "error", err)
		return lookup{}, false, nil
	}
	if master == r.o.Self {
		has, err := r.o.HasData()
		if err != nil {
			return lookup{}, false, err
		}
		if has {
			return lookup{plan: &Plan{Role: RoleMaster, Master: r.o.Self,
				Reason: "a majority of sentinels still name this node master and its data is here"}}, true, nil
		}
		return lookup{wait: "sentinels still name this node master but its data directory is empty; waiting for them to fail over"}, true, nil
	}
	if err := r.o.Probe(ctx, master); err != nil {
		r.o.Log.Info("the sentinels' master does not answer as master", "master", master, "error", err)
		return lookup{}, false, nil
	}
	return replicaOf(master, "a majority of sentinels name %s as master"), true, nil
}

func replicaOf(addr, format string) lookup {
	return lookup{plan: &Plan{Role: RoleReplica, Master: addr, Reason: fmt.Sprintf(format, addr)}}
}

func (in instance) addr() string { return net.JoinHostPort(in.Address, strconv.Itoa(in.Port)) }

type instance registry.Instance

// others drops the instance at self ("ip:port").
func others(ins []registry.Instance, self string) []instance {
	var out []instance
	for _, in := range ins {
		if x := instance(in); x.addr() != self {
			out = append(out, x)
		}
	}
	return out
}
