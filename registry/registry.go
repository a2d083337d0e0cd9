// Package registry is redis-autopilot's view of Consul: waiting for a
// leader, registering the node's services with TTL checks it passes, the
// KV keys the shell version used, and session locks for the bootstrap and
// backup elections. It wraps github.com/hashicorp/consul/api and talks to
// the LOCAL agent, so services and sessions belong to this node.
package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
)

// Defaults for Options.
const (
	DefaultSessionTTL = 15 * time.Second
	// DefaultLockDelay is small on purpose. Consul refuses to hand a lock
	// to anyone for LockDelay after the holder's session is invalidated,
	// so that the old holder can notice first. Our holders notice within
	// one blocking query (well under a second), and Consul's 15s default
	// would only delay electing a new master after a node dies.
	DefaultLockDelay = time.Second

	// Consul's own bounds for a session TTL (session_ttl_min default, and
	// the 24h maximum).
	minSessionTTL = 10 * time.Second
	maxSessionTTL = 24 * time.Hour
	maxLockDelay  = 60 * time.Second

	// leaderPoll is how often WaitLeader asks for a leader.
	leaderPoll = 250 * time.Millisecond
)

var (
	// ErrInvalidOptions is returned by New for unusable Options.
	ErrInvalidOptions = errors.New("invalid registry options")
	// ErrNoLeader is returned by WaitLeader when no leader appeared in time.
	ErrNoLeader = errors.New("no Consul leader")
)

// Options configure a Registry.
type Options struct {
	// API is the Consul client configuration (required), usually
	// api.DefaultConfig() so CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN and friends
	// apply. It should point at the local agent. New may fill in defaults.
	API *api.Config
	// Log receives the registry's logs under the name "registry". Nil
	// discards them.
	Log hclog.Logger
	// SessionTTL is the TTL of lock sessions (default DefaultSessionTTL,
	// at least 10s, Consul's minimum). A lock holder renews every
	// SessionTTL/2 and gives the lock up as lost when it could not renew
	// for SessionTTL; Consul itself invalidates an unrenewed session after
	// 2×SessionTTL.
	SessionTTL time.Duration
	// LockDelay is the session lock-delay (default DefaultLockDelay, at
	// most 60s).
	LockDelay time.Duration
}

func (o *Options) validate() error {
	if o.API == nil {
		return fmt.Errorf("%w: API (the Consul client config) is required", ErrInvalidOptions)
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.SessionTTL < minSessionTTL || o.SessionTTL > maxSessionTTL {
		return fmt.Errorf("%w: SessionTTL %s is outside Consul's [%s, %s]",
			ErrInvalidOptions, o.SessionTTL, minSessionTTL, maxSessionTTL)
	}
	if o.LockDelay == 0 {
		o.LockDelay = DefaultLockDelay
	}
	if o.LockDelay < 0 || o.LockDelay > maxLockDelay {
		return fmt.Errorf("%w: LockDelay %s is outside [0, %s]", ErrInvalidOptions, o.LockDelay, maxLockDelay)
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	return nil
}

// Registry talks to one Consul agent. It is safe for concurrent use.
type Registry struct {
	c          *api.Client
	addr       string
	log        hclog.Logger
	sessionTTL time.Duration
	lockDelay  time.Duration
}

// New validates o and returns a Registry. It does not contact Consul; call
// WaitLeader for that.
func New(o Options) (*Registry, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	c, err := NewClient(o.API)
	if err != nil {
		return nil, fmt.Errorf("create consul client for %s: %w", o.API.Address, err)
	}
	return &Registry{
		c:          c,
		addr:       o.API.Address,
		log:        o.Log.Named("registry"),
		sessionTTL: o.SessionTTL,
		lockDelay:  o.LockDelay,
	}, nil
}

// Client returns the underlying consul/api client, for what this package
// does not wrap.
func (r *Registry) Client() *api.Client { return r.c }

// WaitLeader polls the agent until the cluster has a leader and the agent's
// own node is registered (sessions need it), or ctx ends.
// The error then wraps ErrNoLeader and the last failure, and names the
// address and how long it waited.
func (r *Registry) WaitLeader(ctx context.Context) error {
	start := time.Now()
	var lastErr error
	for {
		leader, err := r.c.Status().LeaderWithQueryOptions(queryOpts(ctx))
		if err == nil && leader != "" {
			if err = r.localNodeRegistered(ctx); err == nil {
				r.log.Debug("consul leader found", "leader", leader, "after", time.Since(start))
				return nil
			}
		}
		if err != nil && ctx.Err() == nil {
			lastErr = err
		} else if err == nil {
			lastErr = errors.New("the agent knows of no leader yet")
		}
		t := time.NewTimer(leaderPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			if lastErr == nil {
				lastErr = ctx.Err()
			}
			return fmt.Errorf("%w at %s after %s: is CONSUL / CONSUL_HTTP_ADDR right and is the server up? last error: %w",
				ErrNoLeader, r.addr, time.Since(start).Round(time.Millisecond), lastErr)
		case <-t.C:
		}
	}
}

func queryOpts(ctx context.Context) *api.QueryOptions {
	return (&api.QueryOptions{}).WithContext(ctx)
}

func writeOpts(ctx context.Context) *api.WriteOptions {
	return (&api.WriteOptions{}).WithContext(ctx)
}

// isNotFound reports whether err is Consul's 404.
func isNotFound(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == 404
}

// localNodeRegistered reports whether the local agent's own node is in the
// catalog with its serfHealth check: until then Consul refuses to create a
// session for it ("Missing node registration"), as a freshly started agent
// can for a moment after a leader is known.
func (r *Registry) localNodeRegistered(ctx context.Context) error {
	v, err := r.LocalNodeInCatalog(ctx)
	if err != nil {
		return err
	}
	if !v.NodeRegistered {
		return fmt.Errorf("the agent's node %s is not registered in the catalog yet", v.Node)
	}
	return nil
}
