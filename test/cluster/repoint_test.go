package cluster

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// repointGrace is the node's wait before it re-points a stale master no
// sentinel knows: twice SENTINEL_DOWN_AFTER (2 s here), at least 15 s.
const repointGrace = 15 * time.Second

// TestForgottenStaleMasterBecomesAReplica freezes the master's redis until
// the sentinels have promoted another node, then has every sentinel forget
// it (SENTINEL RESET, as the departed-node cleanup does after
// SENTINEL_FORGET_AFTER) before it thaws. It comes back reporting role
// master, which no sentinel will ever convert: its node fences it, and
// once no sentinel has known it for the grace, makes it a replica of the
// new master itself. It then passes as redis-replica; the write it took
// while it was a stale master is gone from it, and no acknowledged write
// is lost. Then a replica that follows a dead address, and that every
// sentinel has forgotten, is re-pointed the same way
// (lostReplicaIsRepointed).
func TestForgottenStaleMasterBecomesAReplica(t *testing.T) {
	c := nodes.New(t)
	c.StartNodes(3)
	top := c.WaitTopology(60*time.Second, "", 2, 3)
	old := c.Node(top.Masters[0])
	// A sentinel that knows neither the replicas nor the other sentinels
	// when the master freezes can never fail it over or hear of the switch.
	for _, n := range c.Nodes() {
		waitSentinelKnows(t, n, 2, 2)
	}
	ctx := nodes.Ctx(t, 2*time.Minute)
	if err := old.Client.Set(ctx, "before", "everywhere", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := old.Client.Wait(ctx, 2, 5*time.Second).Result(); err != nil || n != 2 {
		t.Fatalf("WAIT 2 = %d, %v", n, err)
	}
	thaw := freezeRedis(t, old)
	newTop := c.WaitTopology(40*time.Second, "!"+old.Addr(), 1, 3)
	x := c.Node(newTop.Masters[0])
	// Until Sentinel has re-pointed it, the other replica may still follow
	// the frozen old master, though Consul lists it passing already.
	nodes.WaitFor(t, 20*time.Second, func() error {
		if err := x.Client.Set(ctx, "after", "acknowledged by the new master", 0).Err(); err != nil {
			return err
		}
		if n, err := x.Client.Wait(ctx, 1, time.Second).Result(); err != nil || n != 1 {
			return fmt.Errorf("WAIT 1 on the new master = %d, %v", n, err)
		}
		return nil
	})
	forgetEverywhere(t, c, x.Addr(), old.Addr())

	thaw()
	thawedAt := time.Now()
	staleWrite(t, old)

	took := waitFollows(t, old, x, repointGrace+20*time.Second).Sub(thawedAt)
	t.Logf("%s re-pointed to %s %s after it thawed", old.Addr(), x.Addr(), took.Round(100*time.Millisecond))
	if took < repointGrace-time.Second {
		t.Errorf("re-pointed %s after it thawed, before the %s grace", took, repointGrace)
	}
	if took > repointGrace+5*time.Second { // why: its decisions
		for _, l := range strings.Split(old.Log(), "\n") {
			if strings.Contains(l, "node: decision:") {
				t.Log(l)
			}
		}
	}
	c.WaitTopology(30*time.Second, x.Addr(), 2, 3)
	log := old.Log()
	if !strings.Contains(log, "made this node's redis, which no sentinel knows, a replica") || !strings.Contains(log, "none knows this node; it has been so for") {
		t.Errorf("the old master's log does not say it re-pointed itself and why")
	}
	checkKeys(t, old, map[string]string{"before": "everywhere", "after": "acknowledged by the new master", "stale": ""})
	checkKeys(t, x, map[string]string{"before": "everywhere", "after": "acknowledged by the new master", "stale": ""})
	s, err := metrics.Scrape(nodes.Ctx(t, 5*time.Second), nodeURL{old}.get("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("redis_autopilot_repoints_total", "outcome", "done"); v != 1 {
		t.Errorf("redis_autopilot_repoints_total{outcome=\"done\"} = %v, want 1", v)
	}
	waitFenceLifted(t, old)

	var other *nodes.Node
	for _, n := range c.Nodes() {
		if n != old && n != x {
			other = n
		}
	}
	lostReplicaIsRepointed(t, c, x, other)
}

// lostReplicaIsRepointed makes replica n of master x follow a dead address
// and has every sentinel forget it: as a replica that joined a moment
// before a failover, which the leader did not re-point because no
// sentinel had read it in the master's INFO yet, follows the dead old
// master (the reliability suite's rolling replacement). No sentinel will
// ever re-point it; its node makes it x's replica after the grace.
func lostReplicaIsRepointed(t *testing.T, c *nodes.Cluster, x, n *nodes.Node) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(n.IP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	// Open, never accepting: dead, and its port not reused meanwhile.
	defer l.Close()
	dead := l.Addr().(*net.TCPAddr)
	ctx := nodes.Ctx(t, 2*time.Minute)
	if err := n.Client.SlaveOf(ctx, dead.IP.String(), strconv.Itoa(dead.Port)).Err(); err != nil {
		t.Fatal(err)
	}
	// A sentinel re-reads x's INFO when it reconnects after the reset:
	// it must no longer list n there.
	nodes.WaitFor(t, 10*time.Second, func() error {
		info, err := x.Client.Info(nodes.Ctx(t, time.Second), "replication").Result()
		if err != nil {
			return err
		}
		if strings.Contains(info, fmt.Sprintf("ip=%s,port=%d,", n.IP, n.RedisPort)) {
			return fmt.Errorf("%s still lists %s as its replica", x.Addr(), n.Addr())
		}
		return nil
	})
	forgetEverywhere(t, c, x.Addr(), n.Addr())
	forgotAt := time.Now()
	took := waitFollows(t, n, x, repointGrace+20*time.Second).Sub(forgotAt)
	t.Logf("the lost replica %s re-pointed to %s %s after the sentinels forgot it", n.Addr(), x.Addr(), took.Round(100*time.Millisecond))
	if took < repointGrace-time.Second {
		t.Errorf("re-pointed %s after the sentinels forgot it, before the %s grace", took, repointGrace)
	}
	c.WaitTopology(30*time.Second, x.Addr(), 2, 3)
	why := fmt.Sprintf("redis is a replica of %s but a majority of sentinels name %s and none knows this node; it has been so for", dead, x.Addr())
	if log := n.Log(); !strings.Contains(log, "made this node's redis, which no sentinel knows, a replica") || !strings.Contains(log, why) {
		t.Errorf("the lost replica's log does not say it re-pointed itself and why (%q)", why)
	}
	checkKeys(t, n, map[string]string{"before": "everywhere", "after": "acknowledged by the new master"})
	s, err := metrics.Scrape(nodes.Ctx(t, 5*time.Second), nodeURL{n}.get("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("redis_autopilot_repoints_total", "outcome", "done"); v != 1 {
		t.Errorf("redis_autopilot_repoints_total{outcome=\"done\"} = %v on the lost replica, want 1", v)
	}
}

// forgetEverywhere waits until every sentinel names master, done failing
// over, then resets each and checks it no longer lists addr. A sentinel
// reset before it heard of the switch keeps naming the old master and,
// monitoring only it, never hears of the switch (the cleanup never resets
// one that disagrees with the others).
func forgetEverywhere(t *testing.T, c *nodes.Cluster, master, addr string) {
	t.Helper()
	var clients []*redis.SentinelClient
	for _, a := range c.Sentinels() {
		s := redis.NewSentinelClient(&redis.Options{Addr: a, DialTimeout: time.Second})
		defer s.Close()
		clients = append(clients, s)
	}
	nodes.WaitFor(t, 20*time.Second, func() error {
		ctx := nodes.Ctx(t, time.Second)
		for _, s := range clients {
			m, err := s.Master(ctx, "mymaster").Result()
			if err != nil {
				return err
			}
			if got := m["ip"] + ":" + m["port"]; got != master || strings.Contains(m["flags"], "failover") {
				return fmt.Errorf("a sentinel has %s (flags %s), not %s done failing over", got, m["flags"], master)
			}
		}
		return nil
	})
	for _, s := range clients {
		ctx := nodes.Ctx(t, 2*time.Second)
		if err := s.Reset(ctx, "mymaster").Err(); err != nil {
			t.Fatal(err)
		}
		rs, err := s.Replicas(ctx, "mymaster").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r["ip"]+":"+r["port"] == addr {
				t.Fatalf("a sentinel still lists %s after SENTINEL RESET", addr)
			}
		}
	}
}

// waitSentinelKnows waits until n's sentinel lists the replicas and the
// other sentinels it should.
func waitSentinelKnows(t *testing.T, n *nodes.Node, replicas, others int) {
	t.Helper()
	s := redis.NewSentinelClient(&redis.Options{Addr: n.SentinelAddr(), DialTimeout: time.Second})
	defer s.Close()
	nodes.WaitFor(t, 20*time.Second, func() error {
		ctx := nodes.Ctx(t, time.Second)
		rs, err := s.Replicas(ctx, "mymaster").Result()
		if err != nil {
			return err
		}
		ss, err := s.Sentinels(ctx, "mymaster").Result()
		if err != nil {
			return err
		}
		if len(rs) < replicas || len(ss) < others {
			return fmt.Errorf("the sentinel of %s knows %d replicas and %d other sentinels, want %d and %d", n.Name, len(rs), len(ss), replicas, others)
		}
		return nil
	})
}

// staleWrite has the thawed old master take one write in its moment as a
// stale master, as clients that still send to it would before its node
// fences it: the node has usually fenced it already, so the fence is
// lowered for that one write. Nobody acknowledges it.
func staleWrite(t *testing.T, old *nodes.Node) {
	t.Helper()
	nodes.WaitFor(t, 10*time.Second, func() error {
		ctx := nodes.Ctx(t, time.Second)
		if err := old.Client.ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
			return err
		}
		return old.Client.Set(ctx, "stale", "old master only", 0).Err()
	})
	if n, err := old.Client.Wait(nodes.Ctx(t, 2*time.Second), 1, 100*time.Millisecond).Result(); err != nil || n != 0 {
		t.Fatalf("WAIT 1 on the stale master = %d, %v; want 0: nobody follows it", n, err)
	}
}

// checkKeys waits until n holds want ("" for a key it must not have).
func checkKeys(t *testing.T, n *nodes.Node, want map[string]string) {
	t.Helper()
	nodes.WaitFor(t, 10*time.Second, func() error {
		ctx := nodes.Ctx(t, time.Second)
		for key, v := range want {
			got, err := n.Client.Get(ctx, key).Result()
			if errors.Is(err, redis.Nil) {
				got, err = "", nil
			}
			if err != nil {
				return err
			}
			if got != v {
				return fmt.Errorf("%s: %s = %q, want %q", n.Addr(), key, got, v)
			}
		}
		return nil
	})
}

// waitFollows waits up to timeout until n's redis is a replica of x, and
// says when it first saw it.
func waitFollows(t *testing.T, n, x *nodes.Node, timeout time.Duration) time.Time {
	t.Helper()
	var at time.Time
	nodes.WaitFor(t, timeout, func() error {
		info, err := n.Client.Info(nodes.Ctx(t, time.Second), "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:slave") || !strings.Contains(info, "master_host:"+x.IP+"\r\n") ||
			!strings.Contains(info, fmt.Sprintf("master_port:%d\r\n", x.RedisPort)) {
			return fmt.Errorf("%s is not a replica of %s yet:\n%s", n.Addr(), x.Addr(), info)
		}
		if at.IsZero() {
			at = time.Now()
		}
		return nil
	})
	return at
}
