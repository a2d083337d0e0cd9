package pitr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// Rewrites faster than the shipping interval: several incr files come and
// go between two ticks, and the shipper reads each in turn. (It followed
// the manifest to its newest incr file and skipped the ones in between,
// silently: about 100 writes were missing from a chain with no gap.)
func TestShipRewritesWithinOneInterval(t *testing.T) {
	sup := startSup(t)
	r := startAOFRedis(t)
	sh, cs, stop := startShipper(t, r, ShipperOptions{Interval: time.Second})
	rewrites := make(chan error, 1)
	go func() { rewrites <- rewriteTimes(r, 10) }()
	ws := writeFor(t, r, time.Now().Unix()+2)
	if err := <-rewrites; err != nil {
		t.Fatal(err)
	}
	waitShipped(t, sh, ws[len(ws)-1].sent.Unix())
	stop()
	chains := mustChains(t, cs, 1)
	if p := Follow(chains[0]); p.Gap != "" {
		t.Fatalf("gap: %s", p.Gap)
	}
	got := restoreAndStart(t, sup, cs, mustChoose(t, chains, Latest))
	if k := writerKeys(t, got, ws); k != len(ws) {
		t.Fatalf("%d of %d writes after ten rewrites within one-second intervals", k, len(ws))
	}
}

func mustChains(t *testing.T, cs *ChainStore, want int) []Chain {
	t.Helper()
	chains, err := cs.Chains(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != want {
		t.Fatalf("%d chains, want %d", len(chains), want)
	}
	return chains
}

func mustChoose(t *testing.T, chains []Chain, target int64) Plan {
	t.Helper()
	p, err := Choose(chains, target)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitNewChain waits until the shipper ships a chain other than old and
// returns it.
func waitNewChain(t *testing.T, sh *Shipper, old string) string {
	t.Helper()
	var id string
	harness.Eventually(t, 30*time.Second, func() error {
		st, ok := sh.Status()
		if !ok || st.Chain == old {
			return fmt.Errorf("still chain %q (%v)", st.Chain, ok)
		}
		id = st.Chain
		return nil
	})
	return id
}

// setShipped sets key in its own second and waits until the shipper holds
// it; it returns the second.
func setShipped(t *testing.T, r *harness.Redis, sh *Shipper, key string) int64 {
	t.Helper()
	nextSecond(t)
	ts := time.Now().Unix()
	must(t, r.Client.Set(context.Background(), key, "1", 0).Err())
	waitShipped(t, sh, ts)
	return ts
}

// chainEnd is one way a chain ends: break does it to a shipping node.
type chainEnd struct {
	name, reason string
	broken       bool
}

// Each way a chain ends: a new chain starts, the old one is closed with
// the reason, and restores pick the chain that holds the time asked for.
func TestChainEnds(t *testing.T) {
	sup := startSup(t)
	for _, tc := range []struct {
		chainEnd
		brk func(t *testing.T, r *harness.Redis, sh *Shipper)
	}{
		{chainEnd{"full resync", "full resync", true}, func(t *testing.T, r *harness.Redis, _ *Shipper) {
			other := startAOFRedis(t)
			must(t, other.Client.Set(context.Background(), "other", "1", 0).Err())
			must(t, r.Client.SlaveOf(context.Background(), "127.0.0.1", fmt.Sprint(other.Port)).Err())
			harness.Eventually(t, 20*time.Second, func() error {
				if v, _ := r.Client.Get(context.Background(), "other").Result(); v != "1" {
					return errors.New("no full resync yet")
				}
				return nil
			})
			must(t, r.Client.SlaveOf(context.Background(), "no", "one").Err())
		}},
		{chainEnd{"AOF shrank", "the AOF shrank", true}, func(t *testing.T, r *harness.Redis, _ *Shipper) {
			if err := os.Truncate(currentIncr(t, r.Dir), 10); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startAOFRedis(t)
			sh, cs, _ := startShipper(t, r, ShipperOptions{})
			first, _ := sh.Status()
			before := setShipped(t, r, sh, "before")
			nextSecond(t) // the next chain starts in a later second
			tc.brk(t, r, sh)
			waitNewChain(t, sh, first.Chain)
			after := setShipped(t, r, sh, "after")
			checkChainEnd(t, sup, cs, tc.chainEnd, first.Chain, before, after)
		})
	}
}

// checkChainEnd: two chains, the first closed with the reason; a restore
// to before comes from the first chain and lacks after, one to after
// comes from the second chain and has both.
func checkChainEnd(t *testing.T, sup *supervisor.Supervisor, cs *ChainStore, e chainEnd, first string, before, after int64) {
	t.Helper()
	chains := mustChains(t, cs, 2)
	for _, c := range chains {
		if c.Info.ID == first && (c.End == nil || !strings.Contains(c.End.Reason, e.reason)) {
			t.Fatalf("first chain's end %+v, want the reason %q", c.End, e.reason)
		}
	}
	p := mustChoose(t, chains, before)
	if p.Chain.Info.ID != first {
		t.Fatalf("restore to %d picked chain %s, want the first, %s", before, p.Chain.Info.ID, first)
	}
	got := restoreAndStart(t, sup, cs, p)
	if pairs(t, got, "before") != 1 || pairs(t, got, "after") != 0 {
		t.Fatal("restore to the first chain: want before and not after")
	}
	p = mustChoose(t, chains, after)
	if p.Chain.Info.ID == first {
		t.Fatalf("restore to %d picked the first chain", after)
	}
	got = restoreAndStart(t, sup, cs, p)
	if pairs(t, got, "after") != 1 {
		t.Fatal("restore to the second chain: after is missing")
	}
}

// A restart of the shipper (on the same node, or of redis under it) ends
// its chain; the next shipper starts a new one.
func TestChainEndsAtRestart(t *testing.T) {
	sup := startSup(t)
	r := startAOFRedis(t)
	root := harness.TempDir(t, "store-")
	sh, cs, stop := startShipperTo(t, root, nil, r, ShipperOptions{})
	first, _ := sh.Status()
	before := setShipped(t, r, sh, "before")
	nextSecond(t)
	stop()
	sh2, _, _ := startShipperTo(t, root, nil, r, ShipperOptions{})
	second := waitNewChain(t, sh2, first.Chain)
	after := setShipped(t, r, sh2, "after")
	checkChainEnd(t, sup, cs, chainEnd{reason: "shipping stopped"}, first.Chain, before, after)

	r.Kill()
	r2 := harness.StartRedis(t, harness.RedisOptions{Port: r.Port, Dir: r.Dir, Extra: []string{
		"appendonly yes", "aof-timestamp-enabled yes", "appendfsync always"}})
	waitNewChain(t, sh2, second)
	setShipped(t, r2, sh2, "restarted")
	chains := mustChains(t, cs, 3)
	for _, c := range chains {
		if c.Info.ID == second && (c.End == nil || !strings.Contains(c.End.Reason, "redis restarted")) {
			t.Fatalf("second chain's end %+v, want redis restarted", c.End)
		}
	}
}

// A store outage longer than the spool holds breaks the chain; a new one
// starts when the store answers again, and a restore to a second inside
// the outage fails naming the windows around it.
func TestChainEndsAtStoreOutage(t *testing.T) {
	sup := startSup(t)
	r := startAOFRedis(t)
	flaky, cs := faultyStore(t)
	c := redisnode.Dial(r.Addr, "")
	t.Cleanup(func() { c.Close() })
	sh, err := NewShipper(ShipperOptions{Node: RedisNode{C: c}, DataDir: r.Dir, Store: cs, Holder: r.Addr,
		Interval: 100 * time.Millisecond, SpoolLimit: 1024})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sh.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	first := waitNewChain(t, sh, "")
	before := setShipped(t, r, sh, "before")

	flaky.mode.Store(storeFails)
	nextSecond(t)
	outage := time.Now().Unix()
	for i := 0; i < 100; i++ { // past the spool's 1 KiB
		must(t, r.Client.Set(context.Background(), fmt.Sprint("lost:", i), strings.Repeat("x", 100), 0).Err())
	}
	harness.Eventually(t, 20*time.Second, func() error {
		if st, ok := sh.Status(); ok && st.Chain == first {
			return errors.New("the first chain is still open")
		}
		return nil
	})
	nextSecond(t)
	flaky.mode.Store(storeUp)
	waitNewChain(t, sh, first)
	after := setShipped(t, r, sh, "after")

	chains := mustChains(t, cs, 2)
	if p := mustChoose(t, chains, before); p.Chain.Info.ID != first {
		t.Fatalf("restore to %d picked %s, want the first chain", before, p.Chain.Info.ID)
	}
	if _, err := Choose(chains, outage); !errors.Is(err, ErrOutsideWindow) && !errors.Is(err, ErrGap) {
		t.Fatalf("restore into the outage: %v, want the windows or the gap named", err)
	} else {
		t.Logf("restore into the outage: %v", err)
	}
	got := restoreAndStart(t, sup, cs, mustChoose(t, chains, after))
	if pairs(t, got, "before") != 1 || pairs(t, got, "after") != 1 || pairs(t, got, "lost:0", "lost:99") != 2 {
		t.Fatal("the new chain's base lacks what the outage did not ship")
	}
}
