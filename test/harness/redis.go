package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions say how to start a test redis-server.
type RedisOptions struct {
	// Port to listen on 127.0.0.1; 0 picks a free one.
	Port int
	// Password sets requirepass and masterauth.
	Password string
	// ReplicaOf is "host:port" of a master to replicate, or empty.
	ReplicaOf string
	// Extra lines appended to redis.conf.
	Extra []string
	// Dir is the data directory; empty makes a fresh one.
	Dir string
	// Binary is the server program; empty is redis-server as Flavor()
	// names it.
	Binary string
	// LoadTimeout bounds the wait for it to answer with its data loaded;
	// 0 is 20 s (a benchmark loading a GiB of AOF needs longer).
	LoadTimeout time.Duration
}

// Redis is a real redis-server a test started.
type Redis struct {
	*Process
	Addr   string
	Port   int
	Dir    string
	Conf   string
	Client *redis.Client
}

// StartRedis starts redis-server with a config written from o and waits
// until it answers PING and has finished loading.
func StartRedis(t testing.TB, o RedisOptions) *Redis {
	t.Helper()
	bin := o.Binary
	if bin == "" {
		bin = NeedBinary(t, "redis-server")
	}
	if o.Port == 0 {
		o.Port = FreePort(t)
	}
	if o.Dir == "" {
		o.Dir = TempDir(t, "redis-")
	}
	conf := []string{
		fmt.Sprintf("port %d", o.Port), "bind 127.0.0.1", "protected-mode no",
		"dir " + o.Dir, "daemonize no", `logfile ""`, "save \"\"", "appendonly no",
	}
	if o.Password != "" {
		conf = append(conf, "requirepass "+o.Password, "masterauth "+o.Password)
	}
	if o.ReplicaOf != "" {
		conf = append(conf, "replicaof "+strings.Replace(o.ReplicaOf, ":", " ", 1))
	}
	conf = append(conf, o.Extra...)
	path := filepath.Join(o.Dir, "redis.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("write redis.conf: %v", err)
	}
	p := startProcess(t, "redis-server", filepath.Join(o.Dir, "redis.log"), bin, path)
	r := &Redis{Process: p, Addr: fmt.Sprintf("127.0.0.1:%d", o.Port), Port: o.Port, Dir: o.Dir, Conf: path}
	// A loaded disk can hold an fsync (appendfsync always) for seconds:
	// go-redis's default 3 s read timeout failed a command of
	// TestRestoreToTime's timeline in a matrix run beside two other
	// suites ("i/o timeout").
	r.Client = redis.NewClient(&redis.Options{Addr: r.Addr, Password: o.Password, MaxRetries: -1,
		ReadTimeout: 15 * time.Second, WriteTimeout: 15 * time.Second})
	t.Cleanup(func() { r.Client.Close() })
	waitAnswers(t, p, o.LoadTimeout, func(ctx context.Context) error {
		info, err := r.Client.Info(ctx, "persistence").Result()
		if err != nil {
			return err
		}
		if strings.Contains(info, "loading:1") {
			return errors.New("still loading")
		}
		return nil
	})
	return r
}

func waitAnswers(t testing.TB, p *Process, timeout time.Duration, ready func(context.Context) error) {
	t.Helper()
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	err := Wait(timeout, func() error {
		if p.Exited() {
			return errors.New(p.Name + " exited")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return ready(ctx)
	})
	if err != nil {
		t.Fatalf("%s did not come up: %v\n%s", p.Name, err, p.Tail(30))
	}
}

// SentinelOptions say how to start a test redis-sentinel.
type SentinelOptions struct {
	MasterName      string // default "mymaster"
	MasterAddr      string // "host:port" of the master to monitor
	Quorum          int    // default 1
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	// Password is the redis password (auth-pass) and the sentinel's own.
	Password string
	// Port to listen on; 0 picks a free one.
	Port int
}

// Sentinel is a real redis-sentinel a test started.
type Sentinel struct {
	*Process
	Addr   string
	Port   int
	Conf   string
	Client *redis.SentinelClient
}

// StartSentinel starts redis-sentinel monitoring o.MasterAddr and waits
// until it answers PING.
func StartSentinel(t testing.TB, o SentinelOptions) *Sentinel {
	t.Helper()
	bin := NeedBinary(t, "redis-sentinel")
	if o.MasterName == "" {
		o.MasterName = "mymaster"
	}
	if o.Quorum == 0 {
		o.Quorum = 1
	}
	if o.DownAfter == 0 {
		o.DownAfter = 5 * time.Second
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = 60 * time.Second
	}
	if o.Port == 0 {
		o.Port = FreePort(t)
	}
	dir := TempDir(t, "sentinel-")
	host, port, ok := strings.Cut(o.MasterAddr, ":")
	if !ok {
		t.Fatalf("SentinelOptions.MasterAddr %q: want host:port", o.MasterAddr)
	}
	conf := []string{
		fmt.Sprintf("port %d", o.Port), "bind 127.0.0.1", "protected-mode no", "dir " + dir,
		"daemonize no", `logfile ""`,
		fmt.Sprintf("sentinel monitor %s %s %s %d", o.MasterName, host, port, o.Quorum),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", o.MasterName, o.DownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", o.MasterName, o.FailoverTimeout.Milliseconds()),
	}
	if o.Password != "" {
		conf = append(conf, fmt.Sprintf("sentinel auth-pass %s %s", o.MasterName, o.Password), "requirepass "+o.Password)
	}
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("write sentinel.conf: %v", err)
	}
	p := startProcess(t, "redis-sentinel", filepath.Join(dir, "sentinel.log"), bin, path)
	s := &Sentinel{Process: p, Addr: fmt.Sprintf("127.0.0.1:%d", o.Port), Port: o.Port, Conf: path}
	s.Client = redis.NewSentinelClient(&redis.Options{Addr: s.Addr, Password: o.Password, MaxRetries: -1})
	t.Cleanup(func() { s.Client.Close() })
	waitAnswers(t, p, 0, func(ctx context.Context) error { return s.Client.Ping(ctx).Err() })
	return s
}
