package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/autopilotpattern/redis-autopilot/etc"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/hashicorp/go-hclog"
)

// aofManifest is what Redis 7 writes once the AOF's base file exists.
const aofManifest = aofDir + "/appendonly.aof.manifest"

// convertToAOF turns dir/dump.rdb into the multi-part AOF the node
// runs with (docs/ARCHITECTURE.md rule 6): a private redis-server (no
// TCP, a unix socket in a 0700 directory, AOF off, the user's directives: a module's
// data types load) loads the RDB, `CONFIG SET appendonly yes` rewrites it
// as AOF, and once no rewrite is in progress or scheduled and the
// manifest exists, the server is shut down.
func convertToAOF(ctx context.Context, o RestoreOptions, log hclog.Logger, dir string) error {
	priv, err := os.MkdirTemp(o.SocketDir, "redis-restore-")
	if err != nil {
		return fmt.Errorf("private socket directory: %w", err)
	}
	defer os.RemoveAll(priv)
	sock, conf := filepath.Join(priv, "redis.sock"), filepath.Join(priv, "redis.conf")
	err = etc.WriteFile(conf, func(w io.Writer) error {
		return etc.RenderRedis(w, etc.RedisConf{Port: 0, UnixSocket: sock, Dir: dir,
			Password: o.Password, AppendOnly: false, Extra: []string{`save ""`},
			User: o.User, Include: o.Include, UserSets: o.UserSets})
	})
	if err != nil {
		return fmt.Errorf("write the private redis config: %w", err)
	}
	child, err := o.Sup.Add(supervisor.ChildSpec{Command: supervisor.Command{
		Name: "redis-restore", Path: o.RedisServerPath, Args: []string{conf}, StopGrace: time.Minute}})
	if err != nil {
		return fmt.Errorf("start the private redis-server: %w", err)
	}
	defer child.Stop(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, o.LoadTimeout)
	defer cancel()
	go func() { // a redis that exits (e.g. refusing the RDB) ends the waits at once
		select {
		case <-child.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	c := redisnode.Dial(sock, o.Password)
	defer c.Close()
	err = rewriteAOF(ctx, c, log)
	if err == nil {
		err = c.Shutdown(ctx, false)
	}
	if err == nil {
		err = waitStopped(ctx, child)
	}
	if err != nil {
		if st, cerr := child.Result(); isDone(child) && cerr != nil {
			return fmt.Errorf("private redis-server ended (%s; see the redis-restore log): %w", st, err)
		}
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, aofManifest)); err != nil {
		return fmt.Errorf("AOF after conversion: %w", err)
	}
	return nil
}

// waitStopped waits until the child has exited and checks it exited 0.
func waitStopped(ctx context.Context, c *supervisor.Child) error {
	select {
	case <-c.Done():
	case <-ctx.Done(): // also cancelled by the child's exit: check which
		if !isDone(c) {
			return fmt.Errorf("wait for the private redis-server to stop: %w", ctx.Err())
		}
	}
	if _, err := c.Result(); err != nil {
		return fmt.Errorf("private redis-server: %w", err)
	}
	return nil
}

func isDone(c *supervisor.Child) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// rewriteAOF waits for the load, turns the AOF on and waits for the
// rewrite it triggers to complete.
func rewriteAOF(ctx context.Context, c *redisnode.Client, log hclog.Logger) error {
	start := time.Now()
	info, err := waitInfo(ctx, c, "persistence", func(i redisnode.Info) bool { return !i.Loading() })
	if err != nil {
		return fmt.Errorf("load the RDB: %w", err)
	}
	before, _ := info.Get("aof_rewrites")
	log.Info("RDB loaded; rewriting as AOF", "seconds", time.Since(start).Seconds())
	if err := c.Redis().ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		return fmt.Errorf("CONFIG SET appendonly yes: %w", err)
	}
	info, err = waitInfo(ctx, c, "persistence", func(i redisnode.Info) bool {
		n, _ := i.Get("aof_rewrites")
		return i.AOFEnabled() && !i.AOFRewriteInProgress() && !i.AOFRewriteScheduled() &&
			(n != before || i.AOFLastBgrewriteStatus() != "ok")
	})
	if err != nil {
		return fmt.Errorf("wait for the AOF rewrite: %w", err)
	}
	if info.AOFLastBgrewriteStatus() != "ok" {
		return fmt.Errorf("AOF rewrite: aof_last_bgrewrite_status:%s (see the redis-restore log)", info.AOFLastBgrewriteStatus())
	}
	log.Info("AOF written", "seconds", time.Since(start).Seconds())
	return nil
}
