package redisnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

const password = "s3cret"

func dial(t *testing.T, addr string) *Client {
	t.Helper()
	c := Dial(addr, password)
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestInfoFromRealServers records INFO from a real master and replica and
// checks the typed accessors against what the servers are known to be.
func TestInfoFromRealServers(t *testing.T) {
	m := harness.StartRedis(t, harness.RedisOptions{Password: password, Extra: []string{"repl-diskless-sync-delay 0"}})
	r := harness.StartRedis(t, harness.RedisOptions{Password: password, ReplicaOf: m.Addr})
	mc, rc := dial(t, m.Addr), dial(t, r.Addr)
	ctx := ctxT(t, 20*time.Second)
	if err := mc.Redis().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 10*time.Second, func() error {
		info, err := rc.Info(ctx)
		if err != nil {
			return err
		}
		if ok, why := Health(info); !ok {
			return errors.New(why)
		}
		if info.SlaveReplOffset() == 0 {
			return errors.New("replica offset still 0")
		}
		return nil
	})
	mi, err := mc.Info(ctx, "all")
	if err != nil {
		t.Fatal(err)
	}
	ri, err := rc.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mi.RedisVersion(), "7.") || mi.Role() != RoleMaster || ri.Role() != RoleReplica || ri.RedisRole() != "slave" {
		t.Fatalf("version %q, roles %q/%q/%q", mi.RedisVersion(), mi.Role(), ri.Role(), ri.RedisRole())
	}
	if ri.MasterHost() != "127.0.0.1" || ri.MasterPort() != m.Port || ri.MasterLinkStatus() != "up" {
		t.Fatalf("replica master = %s:%d %s", ri.MasterHost(), ri.MasterPort(), ri.MasterLinkStatus())
	}
	reps := mi.Replicas()
	if mi.ConnectedReplicas() != 1 || len(reps) != 1 || reps[0].Port != r.Port || reps[0].State != "online" || reps[0].IP != "127.0.0.1" {
		t.Fatalf("master replicas = %d %+v", mi.ConnectedReplicas(), reps)
	}
	if mi.MasterReplOffset() <= 0 || mi.Loading() || mi.RDBBgsaveInProgress() || mi.AOFRewriteInProgress() || mi.AOFRewriteScheduled() {
		t.Fatalf("master state: %v", mi)
	}
	if _, ok := mi.Get("used_memory"); !ok || mi.LastSaveTime().IsZero() {
		t.Fatalf("INFO all lacks memory section or rdb_last_save_time")
	}
}

// TestHealthReportsFailedSave makes a real BGSAVE fail (its directory is
// removed under redis, as a full or broken disk would) while PING still answers.
func TestHealthReportsFailedSave(t *testing.T) {
	s := harness.StartRedis(t, harness.RedisOptions{Password: password, Extra: []string{"enable-protected-configs yes"}})
	c := dial(t, s.Addr)
	ctx := ctxT(t, 20*time.Second)
	gone := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(gone, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.Redis().ConfigSet(ctx, "dir", gone).Err(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	if ok, why := c.Health(ctx); !ok {
		t.Fatalf("healthy before the save failed: %s", why)
	}
	if err := c.Redis().BgSave(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 10*time.Second, func() error {
		ok, why := c.Health(ctx)
		if ok || !strings.Contains(why, "rdb_last_bgsave_status:err") {
			return fmt.Errorf("Health = %v, %q", ok, why)
		}
		return nil
	})
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("PING should still answer: %v", err)
	}
	// Redis refuses to exit when the final save fails: that is an error, not success.
	if err := c.Shutdown(ctx, true); err == nil || s.Exited() {
		t.Fatalf("Shutdown with a failing save = %v (exited %v), want an error and redis running", err, s.Exited())
	}
}

// TestWaitReadyWaitsForLoading reloads a dataset slowly (key-load-delay)
// and checks WaitReady returns only once loading:0.
func TestWaitReadyWaitsForLoading(t *testing.T) {
	s := harness.StartRedis(t, harness.RedisOptions{Password: password,
		Extra: []string{"enable-debug-command yes", "loading-process-events-interval-bytes 1024"}})
	c := dial(t, s.Addr)
	ctx := ctxT(t, 30*time.Second)
	pipe := c.Redis().Pipeline()
	for i := 0; i < 5000; i++ {
		pipe.Set(ctx, fmt.Sprintf("key:%d", i), "value", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Redis().ConfigSet(ctx, "key-load-delay", "200").Err(); err != nil {
		t.Fatal(err)
	}
	reload := make(chan error, 1)
	go func() {
		rc := Dial(s.Addr, password)
		defer rc.Close()
		reload <- rc.Redis().Do(context.Background(), "DEBUG", "RELOAD").Err()
	}()
	harness.Eventually(t, 10*time.Second, func() error {
		if info, err := c.Info(ctx, "persistence"); err == nil && info.Loading() {
			return nil
		}
		return errors.New("not loading yet")
	})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := WaitReady(short, c); !errors.Is(err, ErrNotReady) {
		t.Fatalf("WaitReady during loading = %v, want ErrNotReady", err)
	}
	if err := WaitReady(ctx, c); err != nil {
		t.Fatal(err)
	}
	if info, err := c.Info(ctx, "persistence"); err != nil || info.Loading() {
		t.Fatalf("after WaitReady: loading=%v err=%v", info.Loading(), err)
	}
	if err := <-reload; err != nil {
		t.Fatalf("DEBUG RELOAD: %v", err)
	}
}

func TestReplicaOfAndShutdown(t *testing.T) {
	m := harness.StartRedis(t, harness.RedisOptions{Password: password})
	s := harness.StartRedis(t, harness.RedisOptions{Password: password})
	c := dial(t, s.Addr)
	ctx := ctxT(t, 20*time.Second)
	if err := c.ReplicaOf(ctx, "127.0.0.1", m.Port); err != nil {
		t.Fatal(err)
	}
	if info, err := c.Info(ctx, "replication"); err != nil || info.Role() != RoleReplica || info.MasterPort() != m.Port {
		t.Fatalf("after ReplicaOf: %v %v", info, err)
	}
	if err := c.NoOne(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := c.Info(ctx, "replication"); err != nil || info.Role() != RoleMaster {
		t.Fatalf("after NoOne: %v %v", info, err)
	}
	if err := c.Redis().Set(ctx, "saved", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(ctx, true); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("redis still running after Shutdown")
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "dump.rdb")); err != nil {
		t.Fatalf("SHUTDOWN SAVE left no dump.rdb: %v", err)
	}
}
