package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/internal/guard"
	"github.com/autopilotpattern/redis-autopilot/internal/runas"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// NodeOptions configure a Node. Durations and counts are validated by
// config before they get here; New checks only what it needs.
type NodeOptions struct {
	Log hclog.Logger
	// Sup starts redis and sentinel; Reg is Consul, Locker its locks
	// (ConsulLocker).
	Sup    Children
	Reg    Registry
	Locker Locker

	// AdvertiseAddr is the IP other nodes and clients reach this node at.
	AdvertiseAddr string
	BindAddr      string
	RedisPort     int
	SentinelPort  int
	DataDir       string
	ConfigDir     string
	Password      string
	// AOFTimestamps turns on aof-timestamp-enabled in redis.conf (PITR).
	AOFTimestamps bool

	PollInterval time.Duration
	CheckTTL     time.Duration
	MasterWait   time.Duration

	Quorum          int
	DownAfter       time.Duration
	FailoverTimeout time.Duration

	// RedisServerPath and RedisSentinelPath are the programs to run.
	RedisServerPath, RedisSentinelPath string
	// RedisUser, RedisInclude and RedisUserSets are the user's redis.conf
	// directives, included files and the names they set; SentinelUser the
	// user's sentinel.conf directives (see etc.RedisConf, etc.SentinelConf).
	// config has refused the ones the node owns; CheckUserConfig checks the
	// rest with the server itself.
	RedisUser, RedisInclude, RedisUserSets, SentinelUser []string
	// ChildEnv is the children's environment, secrets removed.
	ChildEnv []string
	// ChildUser, when set, is the user redis-server and redis-sentinel run
	// as; the node gives it the data and config directories and the
	// config files (0600). nil runs them as the supervisor's user.
	ChildUser *runas.User

	RedisStopGrace    time.Duration
	RestartLimit      int
	RestartMinUptime  time.Duration
	RestartBackoffMax time.Duration
	// ConsulJoin are the Consul servers the node's own agent joins
	// (CONSUL); empty when the node talks to a server directly. A node
	// the servers no longer list joins them again.
	ConsulJoin []string
	// HandoverTimeout bounds the master's hand-over on stop; the default
	// leaves room for the final save within Docker's 10 s.
	HandoverTimeout time.Duration

	// Restore, when set, is called on a node elected master of an empty
	// cluster whose data directory is empty, before redis starts. An error
	// stops the node: it never comes up as an empty master in a backup's
	// place.
	Restore func(ctx context.Context) error
	// Observe, when set, is called with the status after every tick.
	Observe func(Status)
	// Events, when set, is told what happened (metrics implement it).
	Events Events
}

// Events are the things a node reports as they happen.
type Events interface {
	SentinelEvent(typ string)
	LockAcquired(name string)
	LockReleased(name string)
	ConsulError(op string)
	// Fenced is told when the write fence goes up (true) or down.
	Fenced(on bool)
	// Repointed is told when this node made its redis, a stale master or
	// a replica of another node that no sentinel knew, a replica of the
	// master the sentinels name: outcome
	// "done" or "failed".
	Repointed(outcome string)
}

type noEvents struct{}

func (noEvents) SentinelEvent(string) {}
func (noEvents) LockAcquired(string)  {}
func (noEvents) LockReleased(string)  {}
func (noEvents) ConsulError(string)   {}
func (noEvents) Fenced(bool)          {}
func (noEvents) Repointed(string)     {}

// Status is what the node last saw and decided, for `status` and metrics.
type Status struct {
	Role           Role      `json:"role"`
	Self           string    `json:"self"`
	Master         string    `json:"master"`
	Registered     string    `json:"registered_as"`
	Passing        bool      `json:"passing"`
	SentinelMaster string    `json:"sentinel_master"`
	SentinelError  string    `json:"sentinel_error,omitempty"`
	Reason         string    `json:"reason"`
	DecidedAt      time.Time `json:"decided_at"`
	ReasonSince    time.Time `json:"reason_since"`
	StartReason    string    `json:"start_reason"`
	TickError      string    `json:"tick_error,omitempty"`
}

// Node runs one redis-server and redis-sentinel and keeps Consul in step.
type Node struct {
	o        NodeOptions
	log      hclog.Logger
	self     string // redis ip:port
	selfSent string // sentinel ip:port
	resolver *Resolver
	redis    *redisnode.Client
	sent     *sentinel.Client
	// peers is what a tick asks of redis and the sentinels (netPeers).
	peers peers

	redisChild, sentChild *supervisor.Child
	lock                  Lock // bootstrap lock until redis passes
	kick                  chan struct{}

	// fenceMu orders deciding and setting the fence between the tick and
	// fenceAtOnce.
	fenceMu sync.Mutex
	mu      sync.Mutex
	status  Status
	// unfenced is the min-replicas-to-write the write fence replaced.
	unfenced string
	// fenceReported is the fence state last logged and reported.
	fenceReported bool
	// recordedMaster is when this node last wrote itself to registry.KeyLastMaster
	// while passing as master; zero when it is not (only ticks touch it).
	recordedMaster time.Time
	// catalogLost is whether the last tick found this node or its
	// services missing from the servers' catalog; catalogWarned whether
	// that episode was logged.
	catalogLost, catalogWarned bool
	// followed are the other sentinels whose events this node follows;
	// eventAlarms the failover events about this node's entry, by sentinel.
	followed    map[string]context.CancelFunc
	eventAlarms map[string]eventAlarm
	// planned is the planned failover registry.KeyFailoverLock names.
	planned planned
	// badPeers are the sentinels whose last reply was rejected (logged once).
	badPeers map[string]bool
	// odown is the master the local sentinel last flagged +odown, until
	// its -odown or +switch-master.
	odown odownSeen
	// forgottenFor is the master the last ticks saw named while no
	// sentinel knew this node (Decision.Forgotten), and
	// forgottenSince when they first saw it; only ticks touch them.
	forgottenFor   string
	forgottenSince time.Time
}

// NewNode checks o and returns a Node.
func NewNode(o NodeOptions) (*Node, error) {
	switch {
	case o.Sup == nil || o.Reg == nil || o.Locker == nil:
		return nil, fmt.Errorf("node: %w: Sup, Reg and Locker are required", ErrInvalidOptions)
	case net.ParseIP(o.AdvertiseAddr) == nil:
		return nil, fmt.Errorf("node: %w: AdvertiseAddr %q is not an IP", ErrInvalidOptions, o.AdvertiseAddr)
	case o.PollInterval <= 0 || o.CheckTTL <= o.PollInterval:
		return nil, fmt.Errorf("node: %w: need 0 < PollInterval < CheckTTL", ErrInvalidOptions)
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Events == nil {
		o.Events = noEvents{}
	}
	if o.HandoverTimeout == 0 {
		o.HandoverTimeout = 6 * time.Second
	}
	n := &Node{
		o:        o,
		log:      o.Log,
		self:     net.JoinHostPort(o.AdvertiseAddr, strconv.Itoa(o.RedisPort)),
		selfSent: net.JoinHostPort(o.AdvertiseAddr, strconv.Itoa(o.SentinelPort)),
		kick:     make(chan struct{}, 1),
	}
	local := func(port int) string { return LocalAddr(o.BindAddr, port) }
	n.redis = redisnode.Dial(local(o.RedisPort), o.Password)
	n.sent = sentinel.Dial(local(o.SentinelPort), o.Password)
	n.peers = netPeers{n}
	r, err := NewResolver(ResolverOptions{
		Log: o.Log.Named("resolve"), Catalog: o.Reg, Locker: o.Locker,
		Ask: n.askSentinels, Probe: n.probeMaster,
		Self: n.self, SelfSentinel: n.selfSent,
		HasData:    func() (bool, error) { return redisnode.HasData(o.DataDir) },
		MasterWait: o.MasterWait,
		LastMaster: func(ctx context.Context) (string, error) {
			v, _, err := o.Reg.Get(ctx, registry.KeyLastMaster)
			return v, err
		},
	})
	if err != nil {
		return nil, err
	}
	n.resolver = r
	return n, nil
}

// Self is this node's redis address as others see it.
func (n *Node) Self() string { return n.self }

// Status returns a copy of the last status.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status
}

// Kick asks for a tick now (a Sentinel event, an operator's request).
func (n *Node) Kick() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Run starts the node and reconciles until ctx is done, then stops it in
// order (hand-over, deregistration, children). It returns nil after an
// orderly stop.
func (n *Node) Run(ctx context.Context) error {
	err := n.run(ctx)
	if errors.Is(err, guard.ErrPanic) {
		n.log.Error("the node panicked; stopping in order", "error", err, "stack", panicStack(err))
	}
	// The stop's own deadline starts now, not when the node started.
	stopCtx, cancel := context.WithTimeout(context.Background(), n.o.HandoverTimeout+n.o.RedisStopGrace+10*time.Second)
	defer cancel()
	serr := n.safeStop(stopCtx)
	n.redis.Close()
	n.sent.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return serr
}

// startLoop resolves the role and starts; it starts over when the bootstrap
// lock is lost before this node's redis passes.
func (n *Node) startLoop(ctx context.Context) error {
	if err := n.dropStaleRegistrations(ctx); err != nil {
		return err
	}
	for {
		plan, err := n.resolver.Resolve(ctx)
		if err != nil {
			return fmt.Errorf("resolve the role: %w", err)
		}
		n.log.Info("role resolved", "role", plan.Role, "master", plan.Master, "reason", plan.Reason)
		n.setStart(plan)
		err = n.start(ctx, plan)
		if errors.Is(err, errSteppedBack) {
			n.log.Warn("bootstrap lock lost before this node's redis passed; stepping back and resolving again")
			if err := n.stopChildren(ctx); err != nil {
				return err
			}
			if err := n.dropStaleRegistrations(ctx); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

// dropStaleRegistrations removes this node's redis services left on the
// agent from before a crash: once redis listens again its TCP check would
// pass, and with its TTL not yet lapsed Consul would list the stale `redis`
// beside the real master until this node's first tick (found by the
// reliability suite's old-master-returns scenario).
func (n *Node) dropStaleRegistrations(ctx context.Context) error {
	for _, name := range []string{registry.ServiceMaster, registry.ServiceReplica} {
		id := registry.ServiceID(name, n.o.AdvertiseAddr, n.o.RedisPort)
		if err := n.o.Reg.Deregister(ctx, id); err != nil {
			return fmt.Errorf("remove this node's stale registration %s: %w", id, err)
		}
	}
	return nil
}

func (n *Node) setStart(p Plan) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.status.Self = n.self
	n.status.StartReason = p.Reason
	n.status.Master = p.Master
}

// reconcile ticks every PollInterval and on every kick until ctx is done.
// Until its first passing decision (a replica syncing, a master waiting
// for the old one to step down), and for at most MasterWait, it ticks every
// lockPassPoll so the node passes as soon as it can.
func (n *Node) reconcile(ctx context.Context) {
	fastUntil := time.Now().Add(n.o.MasterWait)
	passed := n.Status().Passing
	t := time.NewTimer(n.o.PollInterval)
	defer t.Stop()
	for {
		wait := n.o.PollInterval
		if !passed && time.Now().Before(fastUntil) {
			wait = lockPassPoll
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.kick:
			guard.TestPoint("reconcile")
		}
		if d, err := n.safeTick(ctx); err == nil && d.Pass {
			passed = true
		}
	}
}
