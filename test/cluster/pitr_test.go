package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
	"github.com/redis/go-redis/v9"
)

// pitrRun is what TestPITRThroughTheBinary did and when.
type pitrRun struct {
	store     pitrStore
	txSecond  int64 // a MULTI queued the second before, executed in it
	luaSecond int64 // a script ran from the second before into it (the second the shipping node had applied it by)
	steady    int64 // a second of plain writing, before any failover
	// steadyShipper: when the shipping node applied the writes around steady
	steadyShipper *applyClock
	failover      int64 // a second after SENTINEL FAILOVER
	killed        int64 // a second after the shipping node was SIGKILLed
	flushAt       int64 // the second of FLUSHALL
	endAt         int64 // the last write, alone in its second
	writes        []nodes.SeqWrite
	lost          map[int]bool // acknowledged, then lost by the cluster itself
}

// TestPITRThroughTheBinary runs three nodes with PITR=true and a directory
// store while a writer sets n=n through the sentinels; along the way a
// MULTI and a Lua script span a second boundary, the shipping node runs
// ten BGREWRITEAOFs, a SENTINEL FAILOVER moves the master, the shipping
// node is SIGKILLed, and a FLUSHALL wipes everything. Then `backup restore
// --to` onto fresh data directories: each restore holds every write
// acknowledged before its second and none sent after it; transactions come
// back whole or not at all; FLUSHALL is rolled back.
func TestPITRThroughTheBinary(t *testing.T) {
	t.Parallel()
	run := runPITRCluster(t)
	t.Logf("%d writes, %d acknowledged then lost by the cluster itself", len(run.writes), len(run.lost))
	for _, tc := range []struct {
		name    string
		ts      int64
		shipper *applyClock
	}{{"steady", run.steady, run.steadyShipper}, {"after SENTINEL FAILOVER", run.failover, nil}, {"after SIGKILL of the shipper", run.killed, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			got := restoreTo(t, run.store.root, rfc3339(tc.ts))
			n := checkRestored(t, got, run.writes, tc.ts, run.lost, tc.shipper)
			t.Logf("restored to %s: %d writes", rfc3339(tc.ts), n)
		})
	}
	t.Run("MULTI and Lua whole or not at all", func(t *testing.T) {
		// Every second from the one before the MULTI's EXEC to the one the
		// shipping node had applied the script by: each restore holds the
		// MULTI and the script whole or not at all (whole fails on a
		// part), neither the second before the EXEC, both at the end.
		// When the script's second is not exact (it is when the node
		// applied it, which luaSecond bounds from above), the seconds in
		// between say where it first appears.
		first := int64(0)
		for ts := run.txSecond - 1; ts <= run.luaSecond; ts++ {
			if ts > run.txSecond && ts < run.luaSecond-8 {
				continue // a loaded host's lag: the seconds far from both ends add nothing
			}
			got := restoreTo(t, run.store.root, rfc3339(ts))
			tx, lua := whole(t, got.Client, "tx:1", "tx:2"), whole(t, got.Client, "lua:1", "lua:2")
			switch {
			case ts == run.txSecond-1 && (tx != 0 || lua != 0):
				t.Fatalf("restored to %s, the second before the EXEC: %d of the MULTI's keys and %d of the script's", rfc3339(ts), tx, lua)
			case ts == run.luaSecond && (tx != 2 || lua != 2):
				t.Fatalf("restored to %s, when the shipping node had applied both: %d of the MULTI's keys and %d of the script's", rfc3339(ts), tx, lua)
			case lua == 0 && first != 0:
				t.Fatalf("the script is in a restore to %s and not in one to %s", rfc3339(first), rfc3339(ts))
			case lua == 2 && first == 0:
				first = ts
			}
		}
		t.Logf("the MULTI ran in %s; the script first appears in a restore to %s, the shipping node had applied it by %s", rfc3339(run.txSecond), rfc3339(first), rfc3339(run.luaSecond))
	})
	t.Run("FLUSHALL rolled back", func(t *testing.T) {
		got := restoreTo(t, run.store.root, rfc3339(run.flushAt-1))
		n := checkRestored(t, got, run.writes, run.flushAt-1, run.lost, nil)
		if acked := countAcked(run.writes, run.lost); n < acked || whole(t, got.Client, "post") != 0 {
			t.Fatalf("%d writes present, %d acknowledged and kept by the cluster; post present %v", n, acked, whole(t, got.Client, "post"))
		}
	})
	t.Run("latest", func(t *testing.T) {
		got := restoreTo(t, run.store.root, "latest")
		if n, err := got.Client.DBSize(context.Background()).Result(); err != nil || n != 2 || whole(t, got.Client, "post", "end") != 2 {
			t.Fatalf("latest holds %d keys (%v), want post and end only", n, err)
		}
	})
}

func countAcked(ws []nodes.SeqWrite, lost map[int]bool) int {
	n := 0
	for _, w := range ws {
		if w.OK && !lost[w.N] {
			n++
		}
	}
	return n
}

// runPITRCluster runs the cluster's part of TestPITRThroughTheBinary.
func runPITRCluster(t *testing.T) *pitrRun {
	store := harness.TempDir(t, "pitr-store-")
	c := nodes.New(t, "BACKUP_DIR="+store, "PITR=true")
	a := c.AddNode().Start()
	c.WaitTopology(30*time.Second, a.Addr(), 0, 1)
	c.AddNode().Start()
	c.AddNode().Start()
	c.WaitTopology(60*time.Second, a.Addr(), 2, 3)
	run := &pitrRun{store: openPITRStore(t, store)}
	first := waitShipper(t, c, "")
	w := nodes.StartSeqWriter(c.Sentinels())
	defer w.Close()
	defer w.Stop()
	w.AcksAfter(t, time.Now(), 20*time.Second)
	mc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: c.Sentinels(), MaxRetries: -1})
	defer mc.Close()
	spanSeconds(t, mc, c.Node(first.Node).Client, run)

	rewrites := make(chan error, 1)
	go func() { rewrites <- rewriteAOF(c.Node(first.Node).Client, 10) }()
	run.steadyShipper = startApplyClock(mc, c.Node(first.Node).Client)
	run.steady = time.Now().Unix() + 1
	untilSecond(t, run.steady+2)
	run.steadyShipper.stop()
	t.Logf("around the steady second: %s", run.steadyShipper)
	if err := <-rewrites; err != nil {
		t.Fatal(err)
	}
	run.store.waitReach(t, run.steady+1, 30*time.Second)
	checkOneChain(t, run.store, first.Chain)

	failover(t, c, w)
	// The shipper continues, or its chain ends (a full resync) and a new
	// one starts: restore to a second the newest chain holds.
	run.failover = run.store.waitCovered(t, time.Now().Unix()+2, 60*time.Second)
	untilSecond(t, run.failover+2)

	// The node SIGKILLed is the one that ships: a replica, or the master
	// when the failover promoted the shipping replica (it ships until it
	// sees a replica pass). Issue 14: when it is the master, the replica
	// that ships next may fully resync to the new master, and its chain
	// starts again from the rewrite redis made at the resync (it started
	// from one of its own, later, and the writes between were in no
	// window). killed is a second the next replica's chain holds once the
	// cluster has settled.
	shipper := waitShipper(t, c, "")
	role := nodeRole(c.Node(shipper.Node))
	c.Node(shipper.Node).KillAll()
	waitSentinelsMaster(t, mc)
	next := waitReplicaShipper(t, c, shipper.Chain)
	run.killed = run.store.waitCovered(t, time.Now().Unix()+2, 60*time.Second)
	untilSecond(t, run.killed+2)
	t.Logf("shippers: %s (chain %s) first, %s SIGKILLed (chain %s, role %s), then %s (chain %s)",
		first.Node, first.Chain, shipper.Node, shipper.Chain, role, next.Node, next.Chain)
	// The next shipper's first chain starts from the AOF its redis has, so
	// its window reaches back to that AOF's base, before it took over (it
	// began with a rewrite at the takeover, some 35 s after the SIGKILL:
	// the Consul session's expiry). The seconds no window holds are those
	// before the next shipper's redis last rewrote its AOF (a full resync
	// after the failover, or its own rewrite).
	chains := run.store.chains(t)
	hole := uncovered(chains, shipper.Chain, run.killed)
	found := false
	for _, ch := range chains {
		if ch.Info.ID != next.Chain {
			continue
		}
		found = true
		from, took := ch.Window().From, ch.Info.Created.Unix()
		t.Logf("the next chain's window begins %ds before it was created; %d seconds after the SIGKILLed shipper's last one are in no window",
			took-from, len(hole))
		if role != "master" && from >= took-1 {
			t.Errorf("the chain %s of the next shipper, taking over from a replica, begins at %s, when it was created: it did not start from the AOF its redis had",
				ch.Info.ID, time.Unix(from, 0).UTC().Format(time.RFC3339))
		}
	}
	if !found {
		t.Errorf("the store has no chain %s, which the next shipper reported", next.Chain)
	}

	run.writes = w.Stop()
	run.lost = lostByCluster(t, mc, run.writes)
	flushAndEnd(t, mc, run)
	run.store.waitReach(t, run.endAt, 30*time.Second)
	for _, ch := range run.store.chains(t) {
		end := "open"
		if ch.End != nil {
			end = ch.End.Reason
		}
		t.Logf("window %s: %s", ch.Window(), end)
	}
	return run
}

// spanSeconds runs a MULTI queued in one second and executed in the next,
// and a script that runs from one second into the next.
func spanSeconds(t *testing.T, mc, shipper *redis.Client, run *pitrRun) {
	t.Helper()
	ctx := nodes.Ctx(t, 30*time.Second)
	conn := mc.Conn()
	defer conn.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(conn.Do(ctx, "multi").Err())
	must(conn.Do(ctx, "set", "tx:1", "a").Err())
	untilSecond(t, time.Now().Unix()+1)
	must(conn.Do(ctx, "set", "tx:2", "b").Err())
	run.txSecond = time.Now().Unix()
	must(conn.Do(ctx, "exec").Err())
	// The script spins until TIME moves to the next second; where TIME is
	// frozen inside a script (Redis 8.0, Valkey 8.1) a cap of about a
	// quarter of a second of calls ends it instead. Started in a second's
	// last 150 ms, either way it ends in the next second.
	script := `redis.call('set','lua:1','a')
local s = redis.call('time')[1]
local n = 0
while redis.call('time')[1] == s and n < 250000 do n = n + 1 end
redis.call('set','lua:2','b')
return 1`
	nodes.WaitFor(t, 5*time.Second, func() error {
		if ms := time.Now().Nanosecond() / 1e6; ms < 850 || ms > 950 {
			return fmt.Errorf("%d ms into the second, waiting for 850-950", ms)
		}
		return nil
	})
	must(mc.Eval(ctx, script, nil).Err())
	// The second it ended on the shipping node's clock, which a restore
	// uses: a replica applies it a little later, a loaded one a second or
	// more later (a restore to the master's second missed it once).
	run.luaSecond = appliedSecond(t, mc, shipper)
}

// waitShipper waits for a node to ship a chain other than notChain and
// returns its progress.
func waitShipper(t *testing.T, c *nodes.Cluster, notChain string) pitr.Status {
	t.Helper()
	var st pitr.Status
	nodes.WaitFor(t, 90*time.Second, func() error {
		var err error
		st, err = progress(c)
		switch {
		case err != nil:
			return err
		case st.Chain == "" || st.Chain == notChain:
			return fmt.Errorf("progress %+v: waiting for a chain other than %q", st, notChain)
		}
		for _, n := range c.Nodes() {
			if n.Addr() == st.Node {
				return nil
			}
		}
		return fmt.Errorf("progress names %s, not a node", st.Node)
	})
	return st
}

// waitSentinelsMaster waits until the master mc reaches through the
// sentinels answers as master (after a failover, when the node SIGKILLed
// was the master).
func waitSentinelsMaster(t *testing.T, mc *redis.Client) {
	t.Helper()
	harness.Eventually(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if role := nodes.Role(ctx, mc); role != "master" {
			return fmt.Errorf("the sentinels' master does not answer as master yet (role %q)", role)
		}
		return nil
	})
}

// nodeRole is n's redis role, for the log.
func nodeRole(n *nodes.Node) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return nodes.Role(ctx, n.Client)
}

// waitReplicaShipper waits until a replica ships a chain other than
// notChain.
func waitReplicaShipper(t *testing.T, c *nodes.Cluster, notChain string) pitr.Status {
	t.Helper()
	var st pitr.Status
	nodes.WaitFor(t, 90*time.Second, func() error {
		var err error
		if st, err = progress(c); err != nil || st.Chain == "" || st.Chain == notChain {
			return fmt.Errorf("no chain other than %q yet: %+v %v", notChain, st, err)
		}
		for _, n := range c.Nodes() {
			if n.Addr() != st.Node {
				continue
			}
			if role := nodeRole(n); role != "slave" && role != "replica" {
				return fmt.Errorf("the shipper %s is not a replica yet (role %q)", st.Node, role)
			}
			return nil
		}
		return fmt.Errorf("progress names %s, not a node", st.Node)
	})
	return st
}

// rewriteAOF runs BGREWRITEAOF n times, each after the last finished.
func rewriteAOF(cl *redis.Client, n int) error {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := cl.BgRewriteAOF(ctx).Err(); err != nil {
			return err
		}
		err := harness.Wait(30*time.Second, func() error {
			s, err := cl.Info(ctx, "persistence").Result()
			if err != nil {
				return err
			}
			info := redisnode.ParseInfo(s)
			if info["aof_rewrite_in_progress"] != "0" || info["aof_rewrite_scheduled"] != "0" {
				return errors.New("rewriting")
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("rewrite %d: %w", i+1, err)
		}
	}
	return nil
}

// checkOneChain: the rewrites did not end the first chain, and it has no
// gap.
func checkOneChain(t *testing.T, s pitrStore, id string) {
	t.Helper()
	for _, c := range s.chains(t) {
		if c.Info.ID != id {
			continue
		}
		if c.End != nil || pitr.Follow(c).Gap != "" {
			t.Fatalf("chain %s after ten BGREWRITEAOFs: end %+v, gap %q", id, c.End, pitr.Follow(c).Gap)
		}
		return
	}
	t.Fatalf("chain %s is not in the store", id)
}

// failover runs SENTINEL FAILOVER and waits until the writer's writes are
// acknowledged by the new master.
func failover(t *testing.T, c *nodes.Cluster, w *nodes.SeqWriter) {
	t.Helper()
	ctx := nodes.Ctx(t, 60*time.Second)
	s := redis.NewSentinelClient(&redis.Options{Addr: c.Sentinels()[0]})
	defer s.Close()
	old, err := s.GetMasterAddrByName(ctx, "mymaster").Result()
	if err != nil {
		t.Fatal(err)
	}
	c.Nodes()[0].WaitSentinelKnowsReplicas(30*time.Second, 2)
	// A sentinel answers NOGOODSLAVE until it has fresh INFO of a replica.
	nodes.WaitFor(t, 30*time.Second, func() error { return s.Failover(ctx, "mymaster").Err() })
	nodes.WaitFor(t, 60*time.Second, func() error {
		now, err := s.GetMasterAddrByName(ctx, "mymaster").Result()
		if err != nil || strings.Join(now, ":") == strings.Join(old, ":") {
			return fmt.Errorf("master %v (%v), was %v", now, err, old)
		}
		return nil
	})
	w.AcksAfter(t, time.Now(), 30*time.Second)
}

// lostByCluster returns the acknowledged writes the cluster's master no
// longer holds (an asynchronous failover may lose some): no restore can
// hold them.
func lostByCluster(t *testing.T, mc *redis.Client, ws []nodes.SeqWrite) map[int]bool {
	t.Helper()
	present := readWrites(t, mc, ws)
	lost := map[int]bool{}
	for _, w := range ws {
		if w.OK && !present[w.N] {
			lost[w.N] = true
		}
	}
	return lost
}

// flushAndEnd runs FLUSHALL at the start of a second, writes post, then
// end alone in the next second.
func flushAndEnd(t *testing.T, mc *redis.Client, run *pitrRun) {
	t.Helper()
	ctx := nodes.Ctx(t, 30*time.Second)
	// The master was just SIGKILLed: the new one may still refuse writes
	// for a moment (its fence, NOREPLICAS), as any client sees after a
	// failover; each write is tried again until it is taken. A flush or an
	// end taken a second or two late still falls after flushAt and endAt.
	retry := func(what string, f func() error) {
		t.Helper()
		err := f()
		for err != nil && ctx.Err() == nil {
			_ = ctxtime.Sleep(ctx, 100*time.Millisecond)
			err = f()
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run.flushAt = time.Now().Unix() + 1
	untilSecond(t, run.flushAt)
	retry("FLUSHALL", func() error { return mc.FlushAll(ctx).Err() })
	retry("SET post", func() error { return mc.Set(ctx, "post", "1", 0).Err() })
	run.endAt = time.Now().Unix() + 1
	untilSecond(t, run.endAt)
	retry("SET end", func() error { return mc.Set(ctx, "end", "1", 0).Err() })
}
