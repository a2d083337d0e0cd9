package pitr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// endsObserver records the chains that ended.
type endsObserver struct {
	mu     sync.Mutex
	broken []string
}

func (o *endsObserver) Shipped(string, int64, int64) {}
func (o *endsObserver) ChainEnded(chain, _ string, broken bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if broken {
		o.broken = append(o.broken, chain)
	}
}

func (o *endsObserver) brokenChains() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.broken...)
}

// countingNode counts BGREWRITEAOFs (each chain start costs one).
type countingNode struct {
	Node
	rewrites atomic.Int64
}

func (n *countingNode) BgRewriteAOF(ctx context.Context) error {
	n.rewrites.Add(1)
	return n.Node.BgRewriteAOF(ctx)
}

// writeKeys sets k:<from>..k:<to-1>.
func writeKeys(t *testing.T, r *harness.Redis, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		must(t, r.Client.Set(context.Background(), "k:"+strconv.Itoa(i), i, 0).Err())
	}
}

// shippedAll waits until the shipper stored every write made so far: one
// more write alone in the next second, and that second shipped with
// nothing behind.
func shippedAll(t *testing.T, r *harness.Redis, sh *Shipper) {
	t.Helper()
	nextSecond(t)
	ts := time.Now().Unix()
	must(t, r.Client.Incr(context.Background(), "marker").Err())
	waitShipped(t, sh, ts)
}

// TestShipThroughOutage: a store that fails, then one that stalls, for
// less than the spool limit: the bytes wait on disk, the lag shows in
// Status, and once the store answers the same chain holds every write.
func TestShipThroughOutage(t *testing.T) {
	sup := startSup(t)
	r := startAOFRedis(t)
	f, cs := faultyStore(t)
	obs := &endsObserver{}
	sh, stop := runShipper(t, cs, r, ShipperOptions{StallTimeout: 300 * time.Millisecond, Observer: obs})
	first, _ := sh.Status()
	n := 0
	for _, mode := range []int32{storeFails, storeStalls} {
		f.mode.Store(mode)
		writeKeys(t, r, n, n+500)
		n += 500
		harness.Eventually(t, 20*time.Second, func() error {
			st, _ := sh.Status()
			if st.BytesBehind == 0 || st.StoreError == "" {
				return fmt.Errorf("status %+v: want bytes behind and the store's error", st)
			}
			return nil
		})
		f.mode.Store(storeUp)
		shippedAll(t, r, sh)
	}
	stop()
	if b := obs.brokenChains(); len(b) != 0 {
		t.Fatalf("chains %v broke within the spool limit", b)
	}
	chains, err := cs.Chains(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != 1 || chains[0].Info.ID != first.Chain {
		t.Fatalf("%d chains after the outages, want the first one only", len(chains))
	}
	p, err := Choose(chains, Latest)
	if err != nil {
		t.Fatal(err)
	}
	restored := restoreAndStart(t, sup, cs, p)
	if got := restored.Client.DBSize(context.Background()).Val(); got != int64(n+1) { // and the marker
		t.Fatalf("restored %d keys, want %d", got, n)
	}
}

// TestOutagePastSpoolLimit: past the spool limit the chain is marked
// broken; while the store fails no new chain is tried (no BGREWRITEAOF);
// once it answers the broken chain's end.json is written and a new chain
// starts that holds the writes made after.
func TestOutagePastSpoolLimit(t *testing.T) {
	sup := startSup(t)
	r := startAOFRedis(t)
	f, cs := faultyStore(t)
	obs := &endsObserver{}
	c := redisnode.Dial(r.Addr, "")
	t.Cleanup(func() { c.Close() })
	node := &countingNode{Node: RedisNode{C: c}}
	sh, stop := runShipper(t, cs, r, ShipperOptions{SpoolLimit: 16 << 10, Observer: obs, Node: node})
	first, _ := sh.Status()
	f.mode.Store(storeFails)
	writeKeys(t, r, 0, 1000) // about 40 KiB of AOF
	harness.Eventually(t, 20*time.Second, func() error {
		if len(obs.brokenChains()) == 0 {
			return errors.New("the chain has not broken")
		}
		return nil
	})
	rewrites, failed := node.rewrites.Load(), f.failed.Load()
	harness.Eventually(t, 20*time.Second, func() error { // ten ticks of a store that fails
		if f.failed.Load() < failed+10 {
			return errors.New("fewer than ten more refused writes")
		}
		return nil
	})
	if got := node.rewrites.Load(); got != rewrites {
		t.Fatalf("%d BGREWRITEAOFs while the store failed, want none", got-rewrites)
	}
	f.mode.Store(storeUp)
	var second Status
	harness.Eventually(t, 20*time.Second, func() error {
		var ok bool
		if second, ok = sh.Status(); !ok || second.Chain == first.Chain {
			return errors.New("no new chain yet")
		}
		return nil
	})
	nextSecond(t)
	writeKeys(t, r, 1000, 1100)
	shippedAll(t, r, sh)
	stop()
	chains, err := cs.Chains(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chains {
		if ch.Info.ID == first.Chain && (ch.End == nil || !ch.End.Broken || Follow(ch).Gap != "") {
			t.Fatalf("broken chain %s: end %+v, path %+v; want end.json marked broken, no gap", ch.Info.ID, ch.End, Follow(ch))
		}
	}
	p, err := Choose(chains, Latest)
	if err != nil || p.Chain.Info.ID != second.Chain {
		t.Fatalf("Choose(latest) = %s, %v; want the new chain %s", p.Chain.Info.ID, err, second.Chain)
	}
	restored := restoreAndStart(t, sup, cs, p)
	if got := restored.Client.DBSize(context.Background()).Val(); got != 1101 { // and the marker
		t.Fatalf("restored %d keys, want 1101", got)
	}
}
