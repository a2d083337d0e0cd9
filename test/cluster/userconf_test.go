package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestUserSettingsSurviveFailoverAndRestart: maxmemory and friends given
// in REDIS_CONFIG_EXTRA and an include directory are in force on every
// node, on the new master after SENTINEL FAILOVER (which has redis
// CONFIG REWRITE its file), and on a node restarted after it; the user's
// sentinel directive stays in the sentinel.conf Sentinel rewrote.
func TestUserSettingsSurviveFailoverAndRestart(t *testing.T) {
	t.Parallel()
	inc := t.TempDir()
	if err := os.WriteFile(filepath.Join(inc, "50-save.conf"), []byte("save 900 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := nodes.New(t, "REDIS_CONFIG_EXTRA=maxmemory 64mb\nmaxmemory-policy allkeys-lru\nio-threads 2",
		"REDIS_CONFIG_INCLUDE_DIR="+inc, "SENTINEL_CONFIG_EXTRA=loglevel verbose")
	want := map[string]string{"maxmemory": "67108864", "maxmemory-policy": "allkeys-lru", "io-threads": "2", "save": "900 1"}
	check := func(n *nodes.Node, when string) {
		t.Helper()
		nodes.WaitFor(t, 20*time.Second, func() error {
			for k, v := range want {
				got, err := n.Client.ConfigGet(nodes.Ctx(t, 2*time.Second), k).Result()
				if err != nil || got[k] != v {
					return fmt.Errorf("%s: %s CONFIG GET %s = %q, %v; want %q", when, n.Addr(), k, got[k], err, v)
				}
			}
			return nil
		})
	}
	a := c.AddNode().Start()
	c.WaitTopology(30*time.Second, a.Addr(), 0, 1)
	b := c.AddNode().Start()
	c.WaitTopology(40*time.Second, a.Addr(), 1, 2)
	check(a, "first master")
	check(b, "replica")

	s := redis.NewSentinelClient(&redis.Options{Addr: b.SentinelAddr()})
	defer s.Close()
	if err := s.Failover(nodes.Ctx(t, 10*time.Second), "mymaster").Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	c.WaitTopology(40*time.Second, b.Addr(), 1, 2)
	check(b, "new master after SENTINEL FAILOVER")
	check(a, "old master, now replica")
	conf, err := os.ReadFile(filepath.Join(b.Dir, "etc", "redis.conf"))
	if err != nil || !strings.Contains(string(conf), "include \""+filepath.Join(inc, "50-save.conf")+"\"") {
		t.Errorf("the new master's rewritten redis.conf lost the include (%v):\n%s", err, conf)
	}
	sconf, err := os.ReadFile(filepath.Join(b.Dir, "etc", "sentinel.conf"))
	if err != nil || !strings.Contains(string(sconf), "loglevel verbose") {
		t.Errorf("sentinel.conf lost SENTINEL_CONFIG_EXTRA (%v):\n%s", err, sconf)
	}

	// The replica restarts from the redis.conf its node writes anew.
	if code, _ := a.Term(30 * time.Second); code != 0 {
		t.Fatalf("node exit code %d after SIGTERM", code)
	}
	a.Start()
	c.WaitTopology(40*time.Second, b.Addr(), 1, 2)
	check(a, "restarted node")
}
