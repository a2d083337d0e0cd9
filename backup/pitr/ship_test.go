package pitr

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// startShipper ships r's AOF into a fresh directory store every 100 ms,
// until the test ends.
func startShipper(t *testing.T, r *harness.Redis, o ShipperOptions) (*Shipper, *ChainStore, func()) {
	t.Helper()
	return startShipperTo(t, harness.TempDir(t, "store-"), nil, r, o)
}

// startShipperTo is startShipper into the directory store at root,
// encrypting with keys when they are set.
func startShipperTo(t *testing.T, root string, keys *crypt.Keys, r *harness.Redis, o ShipperOptions) (*Shipper, *ChainStore, func()) {
	t.Helper()
	st, err := dir.New(dir.Options{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := NewChainStore(st, keys)
	if err != nil {
		t.Fatal(err)
	}
	sh, stop := runShipper(t, cs, r, o)
	return sh, cs, stop
}

// runShipper ships r's AOF into cs (every 100 ms unless o says) until the
// test ends, and waits for the first chain.
func runShipper(t *testing.T, cs *ChainStore, r *harness.Redis, o ShipperOptions) (*Shipper, func()) {
	t.Helper()
	c := redisnode.Dial(r.Addr, "")
	t.Cleanup(func() { c.Close() })
	if o.Node == nil {
		o.Node = RedisNode{C: c}
	}
	o.DataDir, o.Store, o.Holder = r.Dir, cs, r.Addr
	o.Interval = cmpOr(o.Interval, 100*time.Millisecond)
	sh, err := NewShipper(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sh.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	harness.Eventually(t, 20*time.Second, func() error {
		if _, ok := sh.Status(); !ok {
			return errors.New("no chain yet")
		}
		return nil
	})
	return sh, stop
}

// waitShipped waits until the shipper holds everything redis wrote up to
// the second ts.
func waitShipped(t *testing.T, sh *Shipper, ts int64) {
	t.Helper()
	harness.Eventually(t, 20*time.Second, func() error {
		st, ok := sh.Status()
		if !ok || st.LastTS < ts || st.BytesBehind != 0 {
			return fmt.Errorf("shipped %+v (chain %v), want the second %d and nothing behind", st, ok, ts)
		}
		return nil
	})
}

// TestShipAndRestore ships a real redis's AOF while it takes writes,
// transactions, a FLUSHALL and ten BGREWRITEAOFs, then restores the chain
// from the store to four times.
func TestShipAndRestore(t *testing.T) {
	sup := startSup(t)
	r := startAOFRedis(t)
	ctx := context.Background()
	must(t, r.Client.Set(ctx, "before-base", "1", 0).Err())
	sh, cs, stop := startShipper(t, r, ShipperOptions{SealPieces: 5})
	rewrites := make(chan error, 1)
	go func() { rewrites <- rewriteTimes(r, 10) }()
	tl := runTimeline(t, r)
	if err := <-rewrites; err != nil {
		t.Fatal(err)
	}
	waitShipped(t, sh, tl.endAt)
	stop()
	chains, err := cs.Chains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != 1 {
		t.Fatalf("%d chains, want one: the rewrites broke the chain", len(chains))
	}
	p := Follow(chains[0])
	if p.Gap != "" || chains[0].End == nil || p.Reach != chains[0].End.Offset {
		t.Fatalf("chain reaches %d with gap %q, end %+v", p.Reach, p.Gap, chains[0].End)
	}
	sealed := 0
	for _, s := range p.Segments {
		if s.LastSeq > s.FirstSeq {
			sealed++
		}
	}
	if sealed == 0 {
		t.Fatalf("no sealed segment among %d", len(p.Segments))
	}
	t.Logf("%d segments (%d sealed) in the path, %d objects", len(p.Segments), sealed, len(chains[0].Segments))
	checkTimeline(t, sup, cs, chains, tl)
}

// rewriteTimes runs BGREWRITEAOF n times, each after the last finished.
func rewriteTimes(r *harness.Redis, n int) error {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := r.Client.BgRewriteAOF(ctx).Err(); err != nil {
			return err
		}
		err := harness.Wait(20*time.Second, func() error {
			s, err := r.Client.Info(ctx, "persistence").Result()
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
			return err
		}
	}
	return nil
}
