package metrics

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestCollectorRealReplication scrapes collectors reading a real master
// and replica: link and lag at rest, lag while the replica is stopped
// (SIGSTOP) and writes go on, catch-up, then the master killed.
func TestCollectorRealReplication(t *testing.T) {
	const pw = "metrics-test-pw"
	// No 5 s wait for more replicas before the first full sync.
	master := harness.StartRedis(t, harness.RedisOptions{Password: pw, Extra: []string{"repl-diskless-sync-delay 0"}})
	replica := harness.StartRedis(t, harness.RedisOptions{Password: pw, ReplicaOf: master.Addr})
	t.Cleanup(func() { replica.Signal(syscall.SIGCONT) }) // before the harness stops it

	dial := func(addr string) *redisnode.Client {
		c := redisnode.Dial(addr, pw)
		t.Cleanup(func() { c.Close() })
		return c
	}
	_, scrapeMaster := newTest(t, NewCollector(CollectorOptions{Redis: dial(master.Addr), Timeout: 500 * time.Millisecond}))
	_, scrapeReplica := newTest(t, NewCollector(CollectorOptions{Redis: dial(replica.Addr), MasterInfo: DialMasterInfo(pw),
		Self: replica.Addr, Timeout: 500 * time.Millisecond}))
	// The master lists the replica by the address it connected from and
	// the port it announced; here both are the replica's own.
	lag, link := Key(p+"replica_lag_bytes", "replica", replica.Addr), Key(p+"replica_link_up", "replica", replica.Addr)

	inSync := func() error {
		m, r := scrapeMaster(), scrapeReplica()
		for _, c := range []struct {
			who string
			s   Samples
		}{{"master", m}, {"replica", r}} {
			if c.s[p+"redis_up"] != 1 || c.s[link] != 1 {
				return fmt.Errorf("%s: redis_up %v, %s %v", c.who, c.s[p+"redis_up"], link, c.s[link])
			}
			if v, ok := c.s[lag]; !ok || v != 0 {
				return fmt.Errorf("%s: %s = %v (present %v), want 0", c.who, lag, v, ok)
			}
		}
		return nil
	}
	write(t, master, 1)
	harness.Eventually(t, 15*time.Second, inSync)

	// DialMasterInfo keeps its client: scrapes do not open connections.
	before := connections(t, master)
	for i := 0; i < 20; i++ {
		scrapeReplica()
	}
	if after := connections(t, master); after > before+1 {
		t.Errorf("20 scrapes of the replica: the master accepted %d connections", after-before)
	}

	if err := replica.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	write(t, master, 100)
	harness.Eventually(t, 5*time.Second, func() error {
		if v := scrapeMaster()[lag]; v < 100*100 {
			return fmt.Errorf("master sees %s = %v with the replica stopped after 100 writes of 100 bytes", lag, v)
		}
		return nil
	})
	if up := scrapeReplica()[p+"redis_up"]; up != 0 {
		t.Errorf("stopped replica: redis_up = %v, want 0 (INFO must time out)", up)
	}
	if err := replica.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 15*time.Second, inSync)

	master.Kill()
	harness.Eventually(t, 15*time.Second, func() error {
		s := scrapeReplica()
		if s[p+"redis_up"] != 1 || s[link] != 0 {
			return fmt.Errorf("master killed: redis_up %v, %s %v, want 1, 0", s[p+"redis_up"], link, s[link])
		}
		if v, ok := s[lag]; ok {
			return fmt.Errorf("master killed: %s = %v, want absent (unknown)", lag, v)
		}
		return nil
	})
}

// write sets n keys of 100 bytes on r.
func write(t *testing.T, r *harness.Redis, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := r.Client.Set(t.Context(), fmt.Sprintf("k%d", i), strings.Repeat("v", 100), 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
	}
}

// connections is r's total_connections_received.
func connections(t *testing.T, r *harness.Redis) int {
	t.Helper()
	text, err := r.Client.Info(t.Context(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_connections_received:"); ok {
			fmt.Sscan(v, &n)
		}
	}
	return n
}
