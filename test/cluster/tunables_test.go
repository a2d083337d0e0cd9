package cluster

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestConsulKeysOverrideSentinelSettings: the shell version's Consul keys
// set the sentinel quorum at start, and SIGHUP applies new values to the
// running sentinel.
func TestConsulKeysOverrideSentinelSettings(t *testing.T) {
	t.Parallel()
	c := nodes.New(t)
	kv := c.Consul.Client.KV()
	if _, err := kv.Put(&api.KVPair{Key: "service/redis-sentinel/quorum", Value: []byte("1")}, nil); err != nil {
		t.Fatal(err)
	}
	n := c.AddNode().Start()
	c.WaitTopology(30*time.Second, n.Addr(), 0, 1)
	s := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", n.SentinelPort)})
	defer s.Close()
	field := func(k string) string {
		m, err := s.Master(nodes.Ctx(t, 2*time.Second), "mymaster").Result()
		if err != nil {
			t.Fatal(err)
		}
		return m[k]
	}
	if q := field("quorum"); q != "1" {
		t.Fatalf("sentinel quorum %s, want 1 from Consul", q)
	}
	if _, err := kv.Put(&api.KVPair{Key: "service/redis-sentinel/failover-timeout", Value: []byte("45000")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	nodes.WaitFor(t, 10*time.Second, func() error {
		if v := field("failover-timeout"); v != "45000" {
			return fmt.Errorf("failover-timeout %s after SIGHUP, want 45000", v)
		}
		return nil
	})
}

// TestBadConsulSentinelKeysAreIgnored: out-of-range Consul overrides
// (a failover-timeout over Sentinel's 2^31-1 ms, a quorum of 0, a quorum
// above the sentinels there are) are logged and ignored at start and on
// SIGHUP; the sentinel runs, and still starts after kill -9 from the file
// it rewrote. Before the range check the node's sentinel crash looped on
// "negative or zero time parameter" and the node exited.
func TestBadConsulSentinelKeysAreIgnored(t *testing.T) {
	t.Parallel()
	c := nodes.New(t)
	kv := c.Consul.Client.KV()
	put := func(k, v string) {
		t.Helper()
		if _, err := kv.Put(&api.KVPair{Key: k, Value: []byte(v)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("service/redis-sentinel/failover-timeout", "3000000000")
	put("service/redis-sentinel/quorum", "0")
	n := c.AddNode().Start()
	c.WaitTopology(30*time.Second, n.Addr(), 0, 1)
	s := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", n.SentinelPort), MaxRetries: -1})
	defer s.Close()
	want := func(when string, fields map[string]string) {
		t.Helper()
		nodes.WaitFor(t, 15*time.Second, func() error {
			m, err := s.Master(nodes.Ctx(t, 2*time.Second), "mymaster").Result()
			if err != nil {
				return err
			}
			for k, v := range fields {
				if m[k] != v {
					return fmt.Errorf("%s: sentinel %s is %s, want %s", when, k, m[k], v)
				}
			}
			return nil
		})
	}
	want("at start", map[string]string{"failover-timeout": "10000", "quorum": "2"})
	for _, key := range []string{"service/redis-sentinel/failover-timeout", "service/redis-sentinel/quorum"} {
		if !strings.Contains(n.Log(), key) {
			t.Errorf("the log does not name the ignored key %s", key)
		}
	}

	put("service/redis-sentinel/quorum", "5") // one sentinel: never agreed
	put("service/redis-sentinel/failover-timeout", "720h")
	if err := n.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	nodes.WaitFor(t, 10*time.Second, func() error {
		if !strings.Contains(n.Log(), "reloaded sentinel settings") {
			return fmt.Errorf("no reload logged yet")
		}
		return nil
	})
	want("after SIGHUP", map[string]string{"failover-timeout": "10000", "quorum": "2"})
	if !strings.Contains(n.Log(), "exceeds the 1 sentinels") {
		t.Errorf("the log does not say why quorum 5 was ignored")
	}

	old := sentinelPid(t, n)
	syscall.Kill(old, syscall.SIGKILL)
	nodes.WaitFor(t, 20*time.Second, func() error {
		if p := sentinelPid(t, n); p == 0 || p == old {
			return fmt.Errorf("sentinel not restarted yet")
		}
		return s.Ping(nodes.Ctx(t, time.Second)).Err()
	})
	want("after kill -9", map[string]string{"failover-timeout": "10000", "quorum": "2"})
	if n.Proc.Exited() {
		t.Fatalf("the node exited:\n%s", n.Proc.Tail(20))
	}
}

// sentinelPid is the pid of the node's redis-sentinel child, or 0.
func sentinelPid(t *testing.T, n *nodes.Node) int {
	t.Helper()
	for _, p := range nodes.ChildrenOf(n.Proc.Pid()) {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); strings.Contains(string(b), "sentinel") {
			return p
		}
	}
	return 0
}
