package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/httpapi"
	"github.com/autopilotpattern/redis-autopilot/internal/runas"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// childEnv is the supervisor's environment without secrets: every secret
// setting and its *_FILE (config.SecretEnv), and, should a secret not be
// a setting (the AWS SDK's own variables, say), any variable whose name
// says it holds one.
func childEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !secretName(name) {
			out = append(out, kv)
		}
	}
	return out
}

func secretName(name string) bool {
	if strings.HasPrefix(name, "AWS_") { // the S3 store's credentials and profile: no child needs them
		return true
	}
	for _, s := range config.SecretEnv() {
		if name == s {
			return true
		}
	}
	for _, w := range []string{"PASSWORD", "SECRET", "TOKEN", "PRIVATE_KEY", "ENCRYPTION_KEY", "CREDENTIALS"} {
		if strings.Contains(strings.ToUpper(name), w) {
			return true
		}
	}
	return false
}

// runNode is the container entrypoint: PID-1 duties, the Consul agent
// coprocess, then the node until SIGTERM/SIGINT.
func runNode(cfg *config.Config, log hclog.Logger, stdout, stderr io.Writer) int {
	// Files we and our children create are private: Sentinel rewrites
	// sentinel.conf (which holds the password) with the process umask.
	syscall.Umask(0o077)
	warnInsecure(cfg, log)
	warnShortDownAfter(cfg, log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sup, err := supervisor.New(supervisor.Options{Log: log.Named("supervisor"), Env: childEnv()})
	if err != nil {
		log.Error("create the supervisor", "error", err)
		return exitFailure
	}
	if err := sup.Start(ctx); err != nil {
		log.Error("start the supervisor", "error", err)
		return exitFailure
	}
	code := runSupervised(ctx, cfg, log, sup)
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.RedisStopGrace+15*time.Second)
	defer cancelStop()
	if err := sup.StopAll(stopCtx); err != nil {
		log.Error("stop children", "error", err)
		if code == exitOK {
			code = exitFailure
		}
	}
	log.Info("exiting", "code", code)
	return code
}

// runSupervised builds the node, runs it with its background work, and
// serves the supervisor's requests until the node stops.
func runSupervised(ctx context.Context, cfg *config.Config, log hclog.Logger, sup *supervisor.Supervisor) (code int) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1) // node.Run's end, once it started
	var started bool
	defer lastResort(log, cfg, sup, stop, &started, done, &code)
	w, code := wireNode(ctx, cfg, log, sup)
	if code != exitOK {
		return code
	}
	defer w.srv.Shutdown(context.Background())
	started = true
	go func() { done <- w.node.Run(ctx) }()
	startBackground(ctx, cfg, log, w, stop)
	return serveNode(ctx, log, sup, w, stop, done)
}

// wiredNode is what wireNode built: the node, its backups (nil without a
// store), its metrics and its HTTP listener.
type wiredNode struct {
	node    *lifecycle.Node
	backups *nodeBackups
	m       *metrics.Metrics
	srv     *httpapi.Server
}

// wireNode finds the server programs, has them check the user's
// configuration, starts the Consul agent when CONSUL is set, and builds
// the node and its HTTP listener. Any failure is the exit code: nothing
// that needs stopping in order has started yet.
func wireNode(ctx context.Context, cfg *config.Config, log hclog.Logger, sup *supervisor.Supervisor) (wiredNode, int) {
	var w wiredNode
	bins, err := redisnode.FindBinaries(redisnode.Flavor(cfg.RedisFlavor), exec.LookPath)
	if err != nil {
		log.Error("find the server programs", "error", err)
		return w, exitFailure
	}
	log.Info("server programs", "flavor", bins.Flavor, "server", bins.Server, "sentinel", bins.Sentinel)
	if err := redisnode.PasswordRewriteProblem(bins.Flavor, cfg.RedisPassword); err != nil {
		log.Error("REDIS_PASSWORD refused; nothing was started", "error", err)
		return w, exitUsage
	}
	if err := checkUserConfig(ctx, cfg, sup, bins); err != nil {
		log.Error("your configuration was refused; nothing was started", "error", err)
		if errors.Is(err, lifecycle.ErrUserConfig) {
			return w, exitUsage
		}
		return w, exitFailure
	}
	if len(cfg.ConsulJoin) > 0 {
		if err := startConsulAgent(cfg, log, sup); err != nil {
			log.Error("start the Consul agent", "error", err)
			return w, exitFailure
		}
	}
	m, reg, err := newMetrics(cfg, sup)
	if err != nil {
		log.Error("create metrics", "error", err)
		return w, exitFailure
	}
	w.m = m
	if w.node, w.backups, err = newNode(ctx, cfg, log, sup, m, bins); err != nil {
		log.Error("start", "error", err)
		return w, exitFailure
	}
	if w.srv, err = startHTTP(ctx, cfg, log, w.node, m, reg, sup, w.backups.PITRStatus); err != nil {
		log.Error("start the HTTP listener", "error", err)
		return w, exitFailure
	}
	return w, exitOK
}

// startBackground starts the departed-node cleanup, the backup schedule
// and point-in-time shipping; one that cannot start stops the node in
// order.
func startBackground(ctx context.Context, cfg *config.Config, log hclog.Logger, w wiredNode, stop context.CancelFunc) {
	if err := startForget(ctx, cfg, log, w.m, w.node.Self()); err != nil {
		log.Error("start the departed-node cleanup", "error", err)
		stop()
	}
	if w.backups == nil {
		return
	}
	if err := w.backups.startScheduler(ctx, w.node.Self()); err != nil {
		log.Error("start the backup scheduler", "error", err)
		stop()
	}
	if err := w.backups.startPITR(ctx, w.node.Self()); err != nil {
		log.Error("start point-in-time shipping", "error", err)
		stop()
	}
}

// checkUserConfig has the servers check REDIS_CONFIG_EXTRA, the include
// directory's files and SENTINEL_CONFIG_EXTRA before anything starts.
func checkUserConfig(ctx context.Context, cfg *config.Config, sup *supervisor.Supervisor, bins redisnode.Binaries) error {
	return lifecycle.CheckUserConfig(ctx, lifecycle.UserConfigCheck{Sup: sup,
		ServerPath: bins.Server, SentinelPath: bins.Sentinel,
		RedisUser: cfg.RedisConfigExtra, RedisInclude: cfg.RedisIncludeFiles, RedisUserSets: cfg.RedisUserSets,
		SentinelUser: cfg.SentinelConfigExtra})
}

func newNode(ctx context.Context, cfg *config.Config, log hclog.Logger, sup *supervisor.Supervisor, m *metrics.Metrics, bins redisnode.Binaries) (*lifecycle.Node, *nodeBackups, error) {
	reg, err := registry.New(registry.Options{API: cfg.Consul, Log: log.Named("registry")})
	if err != nil {
		return nil, nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.ConsulLeaderTimeout)
	defer cancel()
	if err := reg.WaitLeader(lctx); err != nil {
		return nil, nil, err
	}
	backups, err := newNodeBackups(cfg, log, sup, reg, m, bins)
	if err != nil {
		return nil, nil, err
	}
	var restore func(context.Context) error
	if backups != nil {
		restore = backups.Restore
	}
	addr := cfg.AdvertiseAddr
	if addr == "" {
		addr, err = lifecycle.DetectAddr(append(append([]string{}, cfg.ConsulJoin...), cfg.Consul.Address))
		if err != nil {
			return nil, nil, err
		}
		log.Info("advertise address detected", "addr", addr)
	}
	user, err := childUser(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	log.Info("redis and sentinel run as", "user", user)
	node, err := lifecycle.NewNode(lifecycle.NodeOptions{
		Log: log.Named("node"), Sup: sup, Reg: reg, Locker: lifecycle.ConsulLocker{Reg: reg},
		AdvertiseAddr: addr, BindAddr: cfg.BindAddr, RedisPort: cfg.RedisPort, SentinelPort: cfg.SentinelPort,
		DataDir: cfg.RedisDataDir, ConfigDir: cfg.RedisConfigDir, Password: cfg.RedisPassword,
		PollInterval: cfg.PollInterval, CheckTTL: cfg.CheckTTL, MasterWait: cfg.MasterWaitTimeout,
		Quorum: cfg.SentinelQuorum, DownAfter: cfg.SentinelDownAfter, FailoverTimeout: cfg.SentinelFailoverTimeout,
		RedisServerPath: bins.Server, RedisSentinelPath: bins.Sentinel, ChildEnv: childEnv(), ChildUser: user,
		RedisUser: cfg.RedisConfigExtra, RedisInclude: cfg.RedisIncludeFiles, RedisUserSets: cfg.RedisUserSets,
		SentinelUser:   cfg.SentinelConfigExtra,
		RedisStopGrace: cfg.RedisStopGrace, RestartLimit: cfg.RestartLimit, RestartMinUptime: cfg.RestartMinUptime, RestartBackoffMax: cfg.RestartBackoffMax,
		Observe: m.ObserveStatus, Events: m, Restore: restore, ConsulJoin: cfg.ConsulJoin,
		AOFTimestamps: backups != nil && cfg.PITR,
	})
	return node, backups, err
}

// startConsulAgent runs `consul agent` joining CONSUL, restarted without
// limit as the shell version's ContainerPilot coprocess was.
func startConsulAgent(cfg *config.Config, log hclog.Logger, sup *supervisor.Supervisor) error {
	bin, err := exec.LookPath("consul")
	if err != nil {
		return errors.New("CONSUL is set but no consul binary is on PATH: install consul, or unset CONSUL and set CONSUL_HTTP_ADDR")
	}
	for _, d := range []string{cfg.ConsulDataDir, cfg.ConsulConfigDir} {
		if err := runas.PrepareDir(d, 0o700, nil); err != nil {
			return err
		}
	}
	// The node registers its services anew on every start. Services and
	// checks the agent persisted before a crash would otherwise come back
	// with their last status, a stale passing `redis` beside the real
	// master, until the node removed them (found by the reliability
	// suite's old-master-returns scenario).
	for _, d := range []string{"services", "checks"} {
		if err := os.RemoveAll(filepath.Join(cfg.ConsulDataDir, d)); err != nil {
			return fmt.Errorf("clear the agent's persisted %s: %w", d, err)
		}
	}
	if cfg.ConsulLocalConfig != "" {
		p := filepath.Join(cfg.ConsulConfigDir, "local.json")
		if err := os.WriteFile(p, []byte(cfg.ConsulLocalConfig), 0o600); err != nil {
			return fmt.Errorf("write CONSUL_LOCAL_CONFIG to %s: %w", p, err)
		}
	}
	args := []string{"agent", "-data-dir=" + cfg.ConsulDataDir, "-config-dir=" + cfg.ConsulConfigDir,
		"-rejoin", "-retry-interval=10s"}
	for _, j := range cfg.ConsulJoin {
		args = append(args, "-retry-join="+j)
	}
	if cfg.AdvertiseAddr != "" {
		args = append(args, "-bind=0.0.0.0", "-advertise="+cfg.AdvertiseAddr)
	}
	_, err = sup.Add(supervisor.ChildSpec{
		Command: supervisor.Command{Name: "consul", Path: bin, Args: args, Env: childEnv(), StopGrace: 10 * time.Second},
		Restart: supervisor.RestartAlways, MaxRestarts: 0, BackoffMax: cfg.RestartBackoffMax,
	})
	if err == nil {
		log.Info("consul agent started", "join", strings.Join(cfg.ConsulJoin, ","))
	}
	return err
}

// lastResort, deferred by runSupervised, turns a panic of its goroutine
// into the ordered stop: the node's context ends, node.Run hands over,
// deregisters and stops redis with its final save, and runNode stops the
// children left. The exit code is a failed required child's status when
// one ended for good, else 1 (see exitAfterPanic). Panics in the node's
// own goroutines are recovered there (node.Run returns them as errors).
func lastResort(log hclog.Logger, cfg *config.Config, sup *supervisor.Supervisor, stop context.CancelFunc, started *bool, done <-chan error, code *int) {
	r := recover()
	if r == nil {
		return
	}
	log.Error("panic; stopping in order", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	stop()
	defer func() { *code = exitAfterPanic(sup) }()
	if !*started {
		return
	}
	t := time.NewTimer(cfg.RedisStopGrace + 2*time.Minute) // node.Run bounds the hand-over itself
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			log.Error("node stopped", "error", err)
		}
	case <-t.C:
		log.Error("the node did not stop in time after the panic; stopping the children")
	}
}
