package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestPasswordProtectsRedisAndSentinel: REDIS_PASSWORD sets requirepass,
// masterauth and the sentinels' auth-pass and requirepass; replication and a
// failover work with it; it never reaches a log line, a child's argv or
// environment, or a file others can read.
func TestPasswordProtectsRedisAndSentinel(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-Pa55-word"
	c := nodes.New(t, "REDIS_PASSWORD="+secret)
	a := c.AddNode().Start()
	c.WaitTopology(30*time.Second, a.Addr(), 0, 1)
	b := c.AddNode().Start()
	c.WaitTopology(30*time.Second, a.Addr(), 1, 2)
	ctx := nodes.Ctx(t, 60*time.Second)

	for _, n := range []*nodes.Node{a, b} {
		for _, port := range []int{n.RedisPort, n.SentinelPort} {
			anon := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
			err := anon.Ping(ctx).Err()
			anon.Close()
			if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
				t.Errorf("PING without the password on port %d: %v, want NOAUTH", port, err)
			}
		}
	}
	auth := func(port int) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: secret, MaxRetries: -1})
	}
	ma, rb := auth(a.RedisPort), auth(b.RedisPort)
	defer ma.Close()
	defer rb.Close()
	if err := ma.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	nodes.WaitFor(t, 10*time.Second, func() error {
		if v, err := rb.Get(ctx, "k").Result(); err != nil || v != "v" {
			return fmt.Errorf("replica has %q (%v)", v, err)
		}
		return nil
	})
	s := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", b.SentinelPort), Password: secret})
	defer s.Close()
	if err := s.Failover(ctx, "mymaster").Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	c.WaitTopology(40*time.Second, b.Addr(), 1, 2)

	for _, n := range []*nodes.Node{a, b} {
		if strings.Contains(n.Log(), secret) {
			t.Errorf("%s's log holds the password", n.Name)
		}
		for _, pid := range nodes.ChildrenOf(n.Proc.Pid()) {
			for _, f := range []string{"cmdline", "environ"} {
				if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f)); strings.Contains(string(b), secret) {
					t.Errorf("%s's child %d has the password in its %s", n.Name, pid, f)
				}
			}
		}
		filepath.Walk(n.Dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return nil
			}
			if b, _ := os.ReadFile(p); strings.Contains(string(b), secret) && fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s holds the password with mode %v", p, fi.Mode().Perm())
			}
			return nil
		})
	}
}

// TestOddPasswordSurvivesSentinelKill: a password with a space, a quote
// and a newline. Sentinel 7.0 rewrites `sentinel auth-pass` unquoted; the
// node makes the file valid again before every start, so after kill -9
// the sentinel comes back (before, it crash looped on FATAL CONFIG FILE
// ERROR, echoing the password into the log, and the node exited), and no
// line of the password ever reaches the log.
//
// Valkey 8.1 writes a `"` in a password unescaped at CONFIG REWRITE, so
// there the node refuses such a password at start (exit 2, saying why,
// never quoting it) and the test goes on with a `'` instead.
func TestOddPasswordSurvivesSentinelKill(t *testing.T) {
	secret := "pa ss\"word-one\nsecond-line"
	if harness.Flavor() == "valkey" {
		refusedOnValkey(t, secret)
		secret = "pa ss'word-one\nsecond-line"
	}
	c := nodes.New(t, "REDIS_PASSWORD="+secret)
	n := c.AddNode().Start()
	c.WaitTopology(30*time.Second, n.Addr(), 0, 1)
	conf := filepath.Join(n.Dir, "etc", "sentinel.conf")
	nodes.WaitFor(t, 10*time.Second, func() error { // the case this test is about
		b, _ := os.ReadFile(conf)
		switch {
		case strings.Contains(string(b), "sentinel auth-pass mymaster "+secret+"\n"):
			return nil
		case harness.Flavor() == "valkey" && strings.Contains(string(b), "sentinel myid "):
			return nil // rewritten, in whatever form Valkey writes it
		}
		return fmt.Errorf("sentinel has not rewritten auth-pass unquoted yet")
	})
	s := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", n.SentinelPort), Password: secret, MaxRetries: -1})
	defer s.Close()
	for i := 0; i < 2; i++ { // twice: the repaired file is rewritten again at each start
		old := sentinelPid(t, n)
		if old == 0 {
			t.Fatal("no redis-sentinel child")
		}
		syscall.Kill(old, syscall.SIGKILL)
		nodes.WaitFor(t, 20*time.Second, func() error {
			if p := sentinelPid(t, n); p == 0 || p == old {
				return fmt.Errorf("sentinel not restarted yet")
			}
			return s.Ping(nodes.Ctx(t, time.Second)).Err()
		})
	}
	c.WaitTopology(30*time.Second, n.Addr(), 0, 1)
	if n.Proc.Exited() {
		t.Fatalf("the node exited:\n%s", n.Proc.Tail(20))
	}
	log := n.Log()
	for _, frag := range []string{"pa ss", "word-one", "second-line"} {
		if strings.Contains(log, frag) {
			t.Errorf("the log holds %q, part of the password", frag)
		}
	}
	if strings.Contains(log, "FATAL CONFIG FILE ERROR") {
		t.Errorf("sentinel refused its config:\n%s", n.Proc.Tail(20))
	}
}

// refusedOnValkey: a node given secret exits 2 before starting anything,
// naming the problem and never the password.
func refusedOnValkey(t *testing.T, secret string) {
	t.Helper()
	n := nodes.New(t, "REDIS_PASSWORD="+secret).AddNode().Start()
	select {
	case <-n.Proc.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("the node did not refuse the password:\n%s", n.Proc.Tail(20))
	}
	log := n.Log()
	if code := n.Proc.ExitCode(); code != 2 || !strings.Contains(log, "password does not survive CONFIG REWRITE") {
		t.Fatalf("exit code %d, want 2 saying the password does not survive CONFIG REWRITE:\n%s", code, n.Proc.Tail(20))
	}
	if strings.Contains(log, "word-one") {
		t.Error("the refusal quotes the password")
	}
}
