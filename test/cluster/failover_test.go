package cluster

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// waitAcked waits until w has n more WAIT 1 writes acknowledged than it
// had when called.
func waitAcked(t *testing.T, w *nodes.Writer, n int) {
	t.Helper()
	_, before := w.Acked(time.Time{}, time.Now())
	nodes.WaitFor(t, 20*time.Second, func() error {
		if _, waited := w.Acked(time.Time{}, time.Now()); len(waited) < len(before)+n {
			return fmt.Errorf("%d WAIT 1 writes acknowledged so far, want %d", len(waited), len(before)+n)
		}
		return nil
	})
}

// checkNoneLost stops w and reads back every WAIT 1 write it had
// acknowledged on master.
func checkNoneLost(t *testing.T, w *nodes.Writer, master *nodes.Node) {
	t.Helper()
	w.Stop()
	_, waited := w.Acked(time.Time{}, time.Now())
	lost, err := nodes.Lost(nodes.Ctx(t, 30*time.Second), master.Client, waited)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes acknowledged with WAIT 1, %d not acknowledged, %d lost", len(waited), w.Errors(), len(lost))
	if len(lost) != 0 {
		t.Fatalf("%d acknowledged writes lost, e.g. %s acknowledged at %s", len(lost), lost[0].Key, lost[0].At.Format("15:04:05.000"))
	}
}

// TestFailoverCommand runs `redis-autopilot failover` on a replica's node
// while a writer finds the master through the sentinels (go-redis's
// FailoverClient) and acknowledges each write with WAIT 1: no
// acknowledged write is lost, the command prints the new master, Consul
// lists it, and the old master is a replica with its writes unfenced.
// First, --to naming a node that is not a replica is refused, and the
// master goes on serving.
func TestFailoverCommand(t *testing.T) {
	c := nodes.New(t)
	c.StartNodes(3)
	top := c.WaitTopology(60*time.Second, "", 2, 3)
	old := c.Node(top.Masters[0])
	runner := c.Node(top.Replicas[0])

	out, errOut, code := runner.RunCommand(30*time.Second, "failover", "--to", old.Addr())
	if code != 1 || !strings.Contains(errOut, "is not an online replica") {
		t.Fatalf("failover --to the master: exit %d, stdout %q, stderr %q; want exit 1 and a clear error", code, out, errOut)
	}
	if err := old.Client.Set(nodes.Ctx(t, 2*time.Second), "after-refusal", "1", 0).Err(); err != nil {
		t.Fatalf("the master does not serve after a refused failover: %v", err)
	}

	w := c.StartWriter(nodes.WriterOptions{Sentinels: c.Sentinels()})
	defer w.Stop()
	waitAcked(t, w, 200)
	start := time.Now()
	out, errOut, code = runner.RunCommand(60*time.Second, "failover")
	t.Logf("failover: exit %d after %s, stdout %q\n%s", code, time.Since(start).Round(time.Millisecond), out, errOut)
	if code != 0 || out == old.Addr() || c.Node(out) == nil {
		t.Fatalf("failover: exit %d, printed %q; want 0 and the new master", code, out)
	}
	c.WaitTopology(20*time.Second, out, 2, 3)
	ctx := nodes.Ctx(t, 5*time.Second)
	if role, err := old.Client.Do(ctx, "ROLE").Slice(); err != nil || role[0] != "slave" {
		t.Errorf("the old master is not a replica after the command: ROLE %v, %v", role, err)
	}
	nodes.WaitFor(t, 5*time.Second, func() error {
		v, err := old.Client.ConfigGet(ctx, "min-replicas-to-write").Result()
		if err != nil || v["min-replicas-to-write"] == "1000000" {
			return fmt.Errorf("the old master's writes are still fenced: %v %v", v, err)
		}
		return nil
	})
	waitAcked(t, w, 100)
	checkNoneLost(t, w, c.Node(out))
}

// TestRawSentinelFailoverIsFencedAtTheFirstEvent sends SENTINEL FAILOVER
// to a random sentinel, as an operator or a script would, while a
// FailoverClient writer acknowledges each write with WAIT 1. The master's
// node follows every sentinel's events and fences at the leader's first
// (+try-failover): before the leader promotes a replica
// (+failover-state-wait-promotion follows its REPLICAOF NO ONE). No
// acknowledged write is lost.
func TestRawSentinelFailoverIsFencedAtTheFirstEvent(t *testing.T) {
	c := nodes.New(t)
	started := c.StartNodes(3)
	top := c.WaitTopology(60*time.Second, "", 2, 3)
	old := c.Node(top.Masters[0])
	w := c.StartWriter(nodes.WriterOptions{Sentinels: c.Sentinels()})
	defer w.Stop()
	ev, err := nodes.WatchEvents(c.Sentinels())
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Stop()
	leader := started[rand.Intn(len(started))]
	s := redis.NewSentinelClient(&redis.Options{Addr: leader.SentinelAddr()})
	defer s.Close()
	leader.WaitSentinelKnowsReplicas(20*time.Second, 2)
	waitAcked(t, w, 200)
	fw := old.WatchFence()
	if err := s.Failover(nodes.Ctx(t, 5*time.Second), "mymaster").Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER on %s: %v", leader.SentinelAddr(), err)
	}
	var newMaster string
	nodes.WaitFor(t, 30*time.Second, func() error {
		// The old master turns replica about 8 s later (Sentinel's wait):
		// whether it is listed yet does not matter here.
		m := c.Instances("redis", true)
		if len(m) != 1 || m[0] == old.Addr() {
			return fmt.Errorf("passing masters %v, want one other than %s", m, old.Addr())
		}
		newMaster = m[0]
		return nil
	})
	fenced := fw.Stop()
	try, by := ev.First("+try-failover")
	promote, _ := ev.First("+failover-state-wait-promotion")
	t.Logf("SENTINEL FAILOVER to %s (the master is %s): +try-failover from %s; fenced %s after it; promotion %s after it",
		leader.SentinelAddr(), old.Addr(), by, fenced.Sub(try), promote.Sub(try))
	switch {
	case try.IsZero() || promote.IsZero():
		t.Fatalf("the failover's events were not seen (+try-failover %v, +failover-state-wait-promotion %v)", try, promote)
	case fenced.IsZero():
		t.Fatalf("the old master was never fenced:\n%s", old.Proc.Tail(30))
	case !fenced.Before(promote):
		t.Errorf("the old master was fenced %s after the leader promoted a replica", fenced.Sub(promote))
	}
	if !strings.Contains(old.Log(), "a sentinel is failing this master over") {
		t.Errorf("the old master's node did not log the failover event:\n%s", old.Proc.Tail(30))
	}
	waitAcked(t, w, 100)
	checkNoneLost(t, w, c.Node(newMaster))
}
