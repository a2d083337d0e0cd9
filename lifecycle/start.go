package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/autopilotpattern/redis-autopilot/etc"
	"github.com/autopilotpattern/redis-autopilot/internal/runas"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// errSteppedBack: the bootstrap lock was lost before this node's redis
// passed as master; the caller resolves the role again.
var errSteppedBack = errors.New("bootstrap lock lost before redis passed")

// lockPassPoll is how often start-up ticks while it holds the bootstrap
// lock and waits for its redis service to pass.
var lockPassPoll = 200 * time.Millisecond

func (n *Node) redisConfPath() string    { return filepath.Join(n.o.ConfigDir, "redis.conf") }
func (n *Node) sentinelConfPath() string { return filepath.Join(n.o.ConfigDir, "sentinel.conf") }

// start carries out plan: restore if due, configs, redis, registration,
// sentinel; with the bootstrap lock, it holds it until redis passes.
func (n *Node) start(ctx context.Context, plan Plan) error {
	n.lock = plan.Lock
	if plan.Lock != nil {
		n.o.Events.LockAcquired("master")
	}
	if plan.Role == RoleMaster && plan.Lock != nil && n.o.Restore != nil {
		has, err := redisnode.HasData(n.o.DataDir)
		if err != nil {
			return err
		}
		if !has {
			if err := n.o.Restore(ctx); err != nil {
				return fmt.Errorf("restore before starting as the first master: %w", err)
			}
		}
	}
	if err := n.writeConfigs(plan); err != nil {
		return err
	}
	if err := n.startRedis(ctx); err != nil {
		return err
	}
	if err := n.startSentinel(ctx); err != nil {
		return err
	}
	if plan.Lock == nil {
		n.Tick(ctx)
		return nil
	}
	return n.holdLockUntilPassing(ctx)
}

// writeConfigs prepares the directories (0700, tightened if looser, and
// with everything in them given to ChildUser: a restore just wrote the
// data as root) and writes redis.conf and sentinel.conf.
func (n *Node) writeConfigs(plan Plan) error {
	for _, d := range []string{n.o.ConfigDir, n.o.DataDir} {
		if err := runas.PrepareDir(d, 0o700, n.o.ChildUser); err != nil {
			return err
		}
	}
	rc := etc.RedisConf{
		Port: n.o.RedisPort, Bind: n.o.BindAddr, Dir: n.o.DataDir,
		AdvertiseAddr: n.o.AdvertiseAddr, AdvertisePort: n.o.RedisPort,
		Password: n.o.Password, AppendOnly: true, AOFTimestamps: n.o.AOFTimestamps,
		User: n.o.RedisUser, Include: n.o.RedisInclude, UserSets: n.o.RedisUserSets,
	}
	if plan.Role == RoleReplica {
		rc.ReplicaOf = plan.Master
	}
	if err := etc.WriteFile(n.redisConfPath(), func(w io.Writer) error { return etc.RenderRedis(w, rc) }); err != nil {
		return fmt.Errorf("write %s: %w", n.redisConfPath(), err)
	}
	if err := runas.Own(n.redisConfPath(), n.o.ChildUser); err != nil {
		return err
	}
	if err := n.writeSentinelConf(n.tunables(context.Background()), plan.Master); err != nil {
		return err
	}
	return runas.Own(n.sentinelConfPath(), n.o.ChildUser)
}

// repairSentinelConf runs before every start of redis-sentinel: Sentinel
// 7.0 rewrites auth-pass unquoted, and a password with a space, a quote
// or a newline then made its restart after a crash (or kill -9) fail with
// FATAL CONFIG FILE ERROR, crash loop, and take the node down.
func (n *Node) repairSentinelConf() error {
	path := n.sentinelConfPath()
	changed, err := sentinel.RepairConf(path, MasterName, n.o.Password)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if changed {
		n.log.Info("quoted the auth-pass line Sentinel rewrote unquoted", "path", path)
	}
	return runas.Own(path, n.o.ChildUser)
}

// writeSentinelConf keeps a sentinel.conf that Sentinel rewrote with
// learned state when it monitors the current master, updating only the
// tunables; otherwise it writes a fresh one.
func (n *Node) writeSentinelConf(t sentinel.Tunables, master string) error {
	path := n.sentinelConfPath()
	if err := n.repairSentinelConf(); err != nil {
		n.log.Warn("repair sentinel.conf; writing a new one", "error", err)
	}
	if existing, err := sentinel.ReadConf(path); err == nil && sentinel.KeepExisting(existing, MasterName, master) {
		n.log.Info("keeping sentinel.conf with learned state", "master", master)
		if err := sentinel.UpdateConf(path, MasterName, t); err != nil {
			return err
		}
		return appendUserLines(path, n.o.SentinelUser)
	}
	host, p, err := splitAddr(master)
	if err != nil {
		return fmt.Errorf("master %w", err)
	}
	sc := etc.SentinelConf{
		Port: n.o.SentinelPort, Bind: n.o.BindAddr, Dir: n.o.ConfigDir,
		AnnounceIP: n.o.AdvertiseAddr, AnnouncePort: n.o.SentinelPort,
		MasterName: MasterName, MasterAddr: host, MasterPort: p, Quorum: t.Quorum,
		DownAfter: t.DownAfter, FailoverTimeout: t.FailoverTimeout, Password: n.o.Password,
		User: n.o.SentinelUser,
	}
	if err := etc.WriteFile(path, func(w io.Writer) error { return etc.RenderSentinel(w, sc) }); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// childSpec is redis-server's or redis-sentinel's: restarted always, and
// required (the node stops when either gives up crash looping).
func (n *Node) childSpec(name, bin, conf string, grace time.Duration) supervisor.ChildSpec {
	return supervisor.ChildSpec{
		Command: supervisor.Command{Name: name, Path: bin, Args: []string{conf}, Env: n.o.ChildEnv,
			Dir: n.o.DataDir, StopGrace: grace, Credential: n.o.ChildUser.Credential()},
		Restart: supervisor.RestartAlways, MaxRestarts: n.o.RestartLimit, BackoffMax: n.o.RestartBackoffMax,
		MinUptime: n.o.RestartMinUptime, Required: true,
	}
}

func (n *Node) startRedis(ctx context.Context) error {
	c, err := n.o.Sup.Add(n.childSpec("redis-server", n.o.RedisServerPath, n.redisConfPath(), n.o.RedisStopGrace))
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	n.redisChild = c
	n.log.Info("waiting for redis to load its data and answer", "port", n.o.RedisPort)
	if err := redisnode.WaitReady(ctx, n.redis); err != nil {
		return fmt.Errorf("wait for redis-server to be ready: %w", err)
	}
	return nil
}

func (n *Node) startSentinel(ctx context.Context) error {
	spec := n.childSpec("redis-sentinel", n.o.RedisSentinelPath, n.sentinelConfPath(), 5*time.Second)
	spec.BeforeStart = n.repairSentinelConf
	c, err := n.o.Sup.Add(spec)
	if err != nil {
		return fmt.Errorf("start redis-sentinel: %w", err)
	}
	n.sentChild = c
	return n.o.Reg.Register(ctx, n.service(registry.ServiceSentinel, n.o.SentinelPort))
}

func (n *Node) service(name string, port int) registry.Service {
	return registry.Service{
		Name: name, ID: registry.ServiceID(name, n.o.AdvertiseAddr, port),
		Address: n.o.AdvertiseAddr, Port: port, TTL: n.o.CheckTTL,
		TCPInterval: min(max(n.o.PollInterval/2, time.Second), 5*time.Second),
	}
}

// holdLockUntilPassing ticks until this node's redis service passes as
// the master, then releases the bootstrap lock (docs/ARCHITECTURE.md
// rule 2). Losing the lock first means stepping back.
func (n *Node) holdLockUntilPassing(ctx context.Context) error {
	t := time.NewTicker(lockPassPoll)
	defer t.Stop()
	for {
		select {
		case <-n.lock.Lost():
			return n.lockLost(ctx)
		default:
		}
		d, err := n.Tick(ctx)
		if err == nil && d.PassesAsMaster() {
			if err := n.lock.Release(ctx); err != nil {
				n.log.Warn("release the bootstrap lock", "error", err)
			}
			n.lock = nil
			n.o.Events.LockReleased("master")
			n.log.Info("released the bootstrap lock: this node's redis passes as master")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.lock.Lost():
			return n.lockLost(ctx)
		case <-t.C:
		}
	}
}

// lockLost gives the lost lock's session back at once (Release is
// idempotent; the session would otherwise lapse only after its TTL).
func (n *Node) lockLost(ctx context.Context) error {
	_ = n.lock.Release(ctx)
	n.lock = nil
	n.o.Events.LockReleased("master")
	return errSteppedBack
}
