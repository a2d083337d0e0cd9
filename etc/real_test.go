package etc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/redis/go-redis/v9"
)

// An awkward password: spaces, quotes, backslash, '#', non-ASCII.
const testPassword = `p a"ss\wo'rd #ü`

// startWithConf runs bin with the config file conf (written by this
// package, which is what is under test) until the end of the test.
func startWithConf(t *testing.T, bin, conf string) {
	t.Helper()
	logf, err := os.Create(conf + ".log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(harness.NeedBinary(t, bin), conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(conf + ".log")
			t.Logf("%s log:\n%s", bin, b)
		}
	})
}

func writeConf(t *testing.T, path string, render func(w io.Writer) error) {
	t.Helper()
	if err := WriteFile(path, render); err != nil {
		t.Fatal(err)
	}
}

// checkAuth asserts that PING without the password is refused and with it answers.
func checkAuth(t *testing.T, addr string) {
	t.Helper()
	ctx := context.Background()
	anon := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer anon.Close()
	authed := redis.NewClient(&redis.Options{Addr: addr, Password: testPassword, MaxRetries: -1})
	defer authed.Close()
	harness.Eventually(t, 10*time.Second, func() error { return authed.Ping(ctx).Err() })
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without password: err = %v, want NOAUTH", err)
	}
}

func startRedis(t *testing.T, c RedisConf) *redis.Client {
	t.Helper()
	path := filepath.Join(c.Dir, "redis.conf")
	writeConf(t, path, func(w io.Writer) error { return RenderRedis(w, c) })
	startWithConf(t, "redis-server", path)
	addr := fmt.Sprintf("127.0.0.1:%d", c.Port)
	checkAuth(t, addr)
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: c.Password})
	t.Cleanup(func() { rc.Close() })
	return rc
}

func TestRedisConfStartsRealRedis(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data dir")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "redis.sock")
	c := RedisConf{Port: harness.FreePort(t), Bind: "127.0.0.1", Dir: dir, AdvertiseAddr: "127.0.0.1",
		Password: testPassword, AppendOnly: true, AOFTimestamps: true, UnixSocket: sock, Extra: []string{"maxmemory-policy noeviction", "repl-diskless-sync-delay 0"}}
	rc := startRedis(t, c)
	ctx := context.Background()
	want := map[string]string{
		"dir": dir, "appendonly": "yes", "appendfsync": "everysec", "aof-use-rdb-preamble": "yes",
		"requirepass": testPassword, "masterauth": testPassword, "protected-mode": "no",
		"replica-announce-ip": "127.0.0.1", "replica-announce-port": fmt.Sprint(c.Port),
		"maxmemory-policy": "noeviction", "unixsocket": sock, "save": "3600 1 300 100 60 10000",
		"aof-timestamp-enabled": "yes",
	}
	for k, v := range want {
		got, err := rc.ConfigGet(ctx, k).Result()
		if err != nil || got[k] != v {
			t.Errorf("CONFIG GET %s = %q, %v; want %q", k, got[k], err, v)
		}
	}
	unix := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, Password: testPassword})
	defer unix.Close()
	if err := unix.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING on unix socket: %v", err)
	}

	// A replica rendered from the same template replicates from it.
	rdir := t.TempDir()
	r := startRedis(t, RedisConf{Port: harness.FreePort(t), Bind: "127.0.0.1", Dir: rdir,
		ReplicaOf: fmt.Sprintf("127.0.0.1:%d", c.Port), Password: testPassword, AppendOnly: true})
	harness.Eventually(t, 10*time.Second, func() error {
		info, err := r.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("replica link not up")
		}
		return nil
	})
}

func TestRedisConfRestoreMode(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "restore.sock")
	path := filepath.Join(dir, "redis.conf")
	writeConf(t, path, func(w io.Writer) error {
		return RenderRedis(w, RedisConf{Port: 0, Dir: dir, UnixSocket: sock, AppendOnly: false})
	})
	startWithConf(t, "redis-server", path)
	rc := redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	defer rc.Close()
	ctx := context.Background()
	harness.Eventually(t, 10*time.Second, func() error { return rc.Ping(ctx).Err() })
	got, err := rc.ConfigGet(ctx, "appendonly").Result()
	if err != nil || got["appendonly"] != "no" {
		t.Fatalf("appendonly = %q, %v; want no", got["appendonly"], err)
	}
	if ts, _ := rc.ConfigGet(ctx, "aof-timestamp-enabled").Result(); ts["aof-timestamp-enabled"] != "no" {
		t.Fatalf("aof-timestamp-enabled = %q without AOFTimestamps, want no", ts["aof-timestamp-enabled"])
	}
	if port, _ := rc.ConfigGet(ctx, "port").Result(); port["port"] != "0" {
		t.Fatalf("port = %q, want 0 (no TCP)", port["port"])
	}
}

func TestSentinelConfStartsRealSentinel(t *testing.T) {
	mport := harness.FreePort(t)
	startRedis(t, RedisConf{Port: mport, Bind: "127.0.0.1", Dir: t.TempDir(), Password: testPassword, AppendOnly: true})
	dir := t.TempDir()
	c := SentinelConf{Port: harness.FreePort(t), Bind: "127.0.0.1", Dir: dir, AnnounceIP: "127.0.0.1",
		MasterAddr: "127.0.0.1", MasterPort: mport, Quorum: 1, DownAfter: 1500 * time.Millisecond,
		FailoverTimeout: 20 * time.Second, Password: testPassword}
	c.AnnouncePort = c.Port
	path := filepath.Join(dir, "sentinel.conf")
	writeConf(t, path, func(w io.Writer) error { return RenderSentinel(w, c) })
	startWithConf(t, "redis-sentinel", path)
	addr := fmt.Sprintf("127.0.0.1:%d", c.Port)
	checkAuth(t, addr)
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: testPassword})
	defer sc.Close()
	ctx := context.Background()
	// auth-pass works when the sentinel sees the master as a healthy master.
	harness.Eventually(t, 10*time.Second, func() error {
		m, err := sc.Master(ctx, DefaultMasterName).Result()
		if err != nil {
			return err
		}
		if m["flags"] != "master" || m["role-reported"] != "master" {
			return fmt.Errorf("master state %v", m)
		}
		if m["quorum"] != "1" || m["down-after-milliseconds"] != "1500" || m["failover-timeout"] != "20000" ||
			m["parallel-syncs"] != "1" {
			return fmt.Errorf("tunables not applied: %v", m)
		}
		return nil
	})
}
