package pitr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// A replica that fully resyncs (its master was SIGKILLed and the new one
// cannot continue its history) reloads the new master's data and rewrites
// its AOF itself. The next chain starts from that rewrite, so a write the
// new master took before the shipper saw the resync can be restored to
// its second. (The next chain started from a rewrite of its own, a tick or
// two later: its window began after such writes, which no window held,
// and TestPITRThroughTheBinary waited in vain for a chain to reach them
// when the master that shipped was SIGKILLed: 2 runs in about 12.)
func TestChainAfterFullResyncHoldsWritesBeforeItsStart(t *testing.T) {
	sup := startSup(t)
	r := startAOFRedis(t)
	sh, cs := tickShipper(t, r)
	tick(t, sh, "Started")
	first, _ := sh.Status()

	master := startAOFRedis(t)
	ctx := context.Background()
	must(t, master.Client.Set(ctx, "master", "1", 0).Err())
	must(t, r.Client.SlaveOf(ctx, "127.0.0.1", fmt.Sprint(master.Port)).Err())
	waitResynced(t, r)
	nextSecond(t)
	written := time.Now().Unix()
	must(t, master.Client.Set(ctx, "after-resync", "1", 0).Err())
	harness.Eventually(t, 10*time.Second, func() error {
		if pairs(t, r, "after-resync") != 1 {
			return errors.New("the replica has not applied the write yet")
		}
		return nil
	})
	nextSecond(t) // the shipper sees the resync a second after the write
	tick(t, sh, "The chain broke")
	tick(t, sh, "Started")
	if st, _ := sh.Status(); st.Chain == first.Chain {
		t.Fatalf("still chain %s after the full resync", first.Chain)
	}
	tick(t, sh, "Shipping")

	chains := mustChains(t, cs, 2)
	p, err := Choose(chains, written)
	if err != nil {
		t.Fatalf("restore to %s, the second of a write after the resync: %v", unixString(written), err)
	}
	got := restoreAndStart(t, sup, cs, p)
	if pairs(t, got, "master", "after-resync") != 2 {
		t.Fatalf("restore to %s lacks the new master's data or the write after the resync", unixString(written))
	}
}

// tickShipper is a shipper of r into a new directory store that the test
// ticks itself.
func tickShipper(t *testing.T, r *harness.Redis, more ...func(*ShipperOptions)) (*Shipper, *ChainStore) {
	t.Helper()
	c := redisnode.Dial(r.Addr, "")
	t.Cleanup(func() { c.Close() })
	cs := chainStore(t)
	o := ShipperOptions{Node: RedisNode{C: c}, DataDir: r.Dir, Store: cs, Holder: r.Addr}
	for _, f := range more {
		f(&o)
	}
	sh, err := NewShipper(o)
	if err != nil {
		t.Fatal(err)
	}
	return sh, cs
}

// tick runs one Tick and checks its reason begins with want.
func tick(t *testing.T, sh *Shipper, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := sh.Tick(ctx)
	if err != nil || !strings.HasPrefix(d.Reason, want) {
		t.Fatalf("tick: %q, %v; want a reason beginning %q", d.Reason, err, want)
	}
}

// waitResynced waits until the replica r has its link to the master up
// and has finished the AOF rewrite that follows a full resync.
func waitResynced(t *testing.T, r *harness.Redis) {
	t.Helper()
	harness.Eventually(t, 20*time.Second, func() error {
		s, err := r.Client.Info(context.Background(), "replication").Result()
		if err != nil || !strings.Contains(s, "master_link_status:up") {
			return fmt.Errorf("the replica's link is not up yet (%v)", err)
		}
		if info(t, r, "aof_rewrite_in_progress") != "0" || info(t, r, "aof_rewrite_scheduled") != "0" {
			return errors.New("the rewrite after the full resync is not done yet")
		}
		return nil
	})
}

// While a replica loads its master's snapshot in a full sync, redis has
// its AOF off (INFO persistence: loading:1, aof_enabled:0) and turns it
// back on with a rewrite once loading ends. A shipper with no chain then
// (a node that restarted as a replica of the new master: the restart ended
// its chain) waits through the load to start one. It failed with
// "appendonly is off" before: an ERROR in the log at such a sync, then a
// backoff before the next try, seconds more with no window.
func TestChainStartWaitsWhileAReplicaLoads(t *testing.T) {
	r := startLoadingReplica(t, true)
	sh, _ := tickShipper(t, r)
	ctx := context.Background()
	// Tick as Run does, from inside the load until the next chain starts:
	// no tick may fail.
	var reasons []string
	harness.Eventually(t, 30*time.Second, func() error {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		d, err := sh.Tick(tctx)
		if err != nil {
			t.Fatalf("a tick during the replica's full sync failed: %v (ticks before: %q)", err, reasons)
		}
		reasons = append(reasons, d.Reason)
		if !strings.HasPrefix(d.Reason, "Started") {
			return fmt.Errorf("no new chain yet: %q", reasons)
		}
		if got := info(t, r, "loading"); got != "0" {
			t.Fatalf("a chain started while the replica was still loading (loading:%s)", got)
		}
		return nil
	})
	if n, err := r.Client.DBSize(ctx).Result(); err != nil || n != loadKeys {
		t.Fatalf("the replica holds %d keys (%v), want the master's %d", n, err, loadKeys)
	}
}

// A replica with appendonly no that loads its master's snapshot looks
// the same in INFO as one that will turn its AOF back on; the setting
// tells them apart, and the start fails at once instead of waiting out
// the load.
func TestChainStartDuringALoadWithAppendonlyOffFails(t *testing.T) {
	r := startLoadingReplica(t, false)
	sh, _ := tickShipper(t, r)
	_, err := sh.Tick(context.Background())
	if err == nil || !strings.Contains(err.Error(), "appendonly is off") {
		t.Fatalf("a start on a loading replica with appendonly no: %v, want \"appendonly is off\"", err)
	}
	if got := info(t, r, "loading"); got != "1" {
		t.Fatalf("the start failed only after the load ended (loading:%s): it waited for nothing", got)
	}
}

// loadKeys is the size of the snapshot startLoadingReplica's replica
// loads: at 2 ms a key, about 4 s of loading.
const loadKeys = 2000

// startLoadingReplica starts a master with loadKeys keys and a replica of
// it (appendonly as aof says) that is loading the master's snapshot when
// it returns, slowed down with key-load-delay and answering between keys
// every KiB it has read (else only every 2 MB).
func startLoadingReplica(t *testing.T, aof bool) *harness.Redis {
	t.Helper()
	r := startAOFRedis(t)
	master := startAOFRedis(t)
	ctx := context.Background()
	pairs := make([]any, 0, 2*loadKeys)
	for i := range loadKeys {
		pairs = append(pairs, fmt.Sprintf("k%d", i), i)
	}
	must(t, master.Client.MSet(ctx, pairs...).Err())
	must(t, master.Client.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err())
	if !aof {
		must(t, r.Client.ConfigSet(ctx, "appendonly", "no").Err())
	}
	must(t, r.Client.ConfigSet(ctx, "key-load-delay", "2000").Err())
	must(t, r.Client.ConfigSet(ctx, "loading-process-events-interval-bytes", "1024").Err())
	must(t, r.Client.SlaveOf(ctx, "127.0.0.1", fmt.Sprint(master.Port)).Err())
	harness.Eventually(t, 10*time.Second, func() error {
		s, err := r.Client.Info(ctx, "persistence").Result()
		if err != nil || !strings.Contains(s, "\r\nloading:1\r\n") {
			return fmt.Errorf("the replica is not loading the master's snapshot yet (%v)", err)
		}
		if !strings.Contains(s, "aof_enabled:0\r\n") {
			t.Fatalf("the replica loads with its AOF on; these tests need the window where redis has it off:\n%s", s)
		}
		return nil
	})
	return r
}
