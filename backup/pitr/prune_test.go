package pitr

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// storedChain writes a chain into cs as the shipper does: base, chain.json,
// one segment per entry of lastTS (each a second apart from the base), and
// end.json when ended. It returns the chain's id.
func storedChain(t *testing.T, cs *ChainStore, baseTS int64, lastTS []int64, ended, withInfo bool) string {
	t.Helper()
	ctx := context.Background()
	id, err := NewChainID(time.Unix(baseTS, 0))
	if err != nil {
		t.Fatal(err)
	}
	info := ChainInfo{ID: id, Node: "n", Base: "base.rdb", BaseTS: baseTS, Created: time.Unix(baseTS, 0)}
	must(t, cs.PutBase(ctx, &info, strings.NewReader("REDIS0011 base")))
	if withInfo {
		must(t, cs.PutInfo(ctx, info))
	}
	off := int64(0)
	for i, ts := range lastTS {
		data := []byte("*1\r\n$4\r\nPING\r\n")
		s := Segment{Chain: id, FirstSeq: int64(i + 1), LastSeq: int64(i + 1),
			Range: Range{Start: off, End: off + int64(len(data)), FirstTS: ts, LastTS: ts}, SHA256: sum256(data)}
		must(t, cs.PutSegment(ctx, s, bytes.NewReader(data)))
		off = s.End
	}
	if ended {
		must(t, cs.PutEnd(ctx, id, ChainEnd{Offset: off, LastTS: baseTS, Reason: "test"}))
	}
	return id
}

func chainStore(t *testing.T) *ChainStore {
	t.Helper()
	st, err := dir.New(dir.Options{Dir: harness.TempDir(t, "store-")})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := NewChainStore(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// objectsOf lists the chain ids that have any object left.
func objectsOf(t *testing.T, cs *ChainStore) map[string]int {
	t.Helper()
	objs, err := cs.Objects.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, o := range objs {
		id, _, _ := strings.Cut(o.Name, "/")
		n[id]++
	}
	return n
}

// TestPruneChains: chains whose window ended before the horizon go whole;
// a chain that reaches past it, the active one, an open chain written to
// recently and a base upload under way stay; stale leftovers go.
func TestPruneChains(t *testing.T) {
	ctx := context.Background()
	cs := chainStore(t)
	horizon := time.Now().Add(-time.Hour)
	h := horizon.Unix()
	old := storedChain(t, cs, h-600, []int64{h - 590, h - 500}, true, true)
	reaches := storedChain(t, cs, h-400, []int64{h - 300, h + 5}, true, true)
	active := storedChain(t, cs, h-200, []int64{h - 100}, false, true)
	open := storedChain(t, cs, h-150, []int64{h - 140}, false, true)
	starting := storedChain(t, cs, h-100, nil, false, false)
	after := storedChain(t, cs, h+100, []int64{h + 200}, true, true)

	deleted, err := cs.Prune(ctx, PruneOptions{Horizon: horizon, Active: active})
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0] != old {
		t.Fatalf("deleted %v, want only the old ended chain %s", deleted, old)
	}
	left := objectsOf(t, cs)
	for _, id := range []string{reaches, active, open, starting, after} {
		if left[id] == 0 {
			t.Fatalf("chain %s was deleted (left %v)", id, left)
		}
	}
	if left[old] != 0 {
		t.Fatalf("%d objects of the pruned chain left", left[old])
	}

	// StaleAfter later: the open chain (no end.json, not active) and the
	// base upload that never finished are leftovers.
	later := func() time.Time { return time.Now().Add(StaleAfter + time.Minute) }
	deleted, err = cs.Prune(ctx, PruneOptions{Horizon: horizon, Active: active, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(deleted)
	want := []string{open, starting}
	sort.Strings(want)
	if strings.Join(deleted, " ") != strings.Join(want, " ") {
		t.Fatalf("deleted %v, want the stale open chain and the unfinished start %v", deleted, want)
	}
	chains, err := cs.Chains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range chains {
		ids = append(ids, c.Info.ID)
	}
	sort.Strings(ids)
	want = []string{reaches, active, after}
	sort.Strings(want)
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("chains %v after pruning, want %v", ids, want)
	}
}

// TestPruneFailsHalfWay: a prune that fails after deleting chain.json and
// one more object leaves no chain listed that names a deleted object, and
// the next prune (once the leftovers are stale) deletes the rest.
func TestPruneFailsHalfWay(t *testing.T) {
	ctx := context.Background()
	cs := chainStore(t)
	horizon := time.Now().Add(-time.Hour)
	h := horizon.Unix()
	old := storedChain(t, cs, h-600, []int64{h - 590, h - 580, h - 570}, true, true)
	f := newFaultyObjects(cs.Objects)
	f.deletesLeft.Store(2)
	broken := &ChainStore{Objects: f}
	if _, err := broken.Prune(ctx, PruneOptions{Horizon: horizon}); !errors.Is(err, errInjected) {
		t.Fatalf("prune = %v, want the injected failure", err)
	}
	left := objectsOf(t, cs)[old]
	if left == 0 {
		t.Fatal("the failing store deleted everything")
	}
	chains, err := cs.Chains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != 0 {
		t.Fatalf("chain %s listed with %d of its objects left: chain.json must go first", chains[0].Info.ID, left)
	}
	// Before StaleAfter the leftovers stay (a base upload looks the same).
	if deleted, err := cs.Prune(ctx, PruneOptions{Horizon: horizon}); err != nil || len(deleted) != 0 {
		t.Fatalf("prune at once = %v, %v; want nothing deleted yet", deleted, err)
	}
	later := func() time.Time { return time.Now().Add(StaleAfter + time.Minute) }
	deleted, err := cs.Prune(ctx, PruneOptions{Horizon: horizon, Now: later})
	if err != nil || len(deleted) != 1 || deleted[0] != old {
		t.Fatalf("next prune = %v, %v; want %s finished", deleted, err, old)
	}
	if n := objectsOf(t, cs)[old]; n != 0 {
		t.Fatalf("%d objects left after the second prune", n)
	}
}

// TestRotateAndPrune ships a real redis with MaxAge: the chain is ended
// and a new one started once it is that old, and a prune with the horizon
// at the newest chain's start deletes every ended chain but never the one
// being shipped, which still restores.
func TestRotateAndPrune(t *testing.T) {
	r := startAOFRedis(t)
	ctx := context.Background()
	sh, cs, stop := startShipper(t, r, ShipperOptions{MaxAge: time.Second})
	defer stop()
	var chains []Chain
	harness.Eventually(t, 30*time.Second, func() error {
		must(t, r.Client.Incr(ctx, "writes").Err())
		var err error
		if chains, err = cs.Chains(ctx); err != nil {
			return err
		}
		ended := 0
		for _, c := range chains {
			if c.End != nil && strings.HasPrefix(c.End.Reason, "rotated") {
				ended++
			}
		}
		if ended < 2 {
			return errors.New("fewer than two rotated chains")
		}
		return nil
	})
	var st Status
	harness.Eventually(t, 20*time.Second, func() error {
		var ok bool
		if st, ok = sh.Status(); !ok {
			return errors.New("no chain being shipped (between two)")
		}
		return nil
	})
	deleted, err := cs.Prune(ctx, PruneOptions{Horizon: time.Now().Add(time.Hour), Active: st.Chain})
	if err != nil {
		t.Fatal(err)
	}
	left := objectsOf(t, cs)
	if left[st.Chain] == 0 {
		t.Fatalf("the chain being shipped %s was pruned", st.Chain)
	}
	for _, id := range deleted {
		if id == st.Chain {
			t.Fatalf("pruned the active chain %s", id)
		}
	}
	gone := map[string]bool{}
	for _, id := range deleted {
		gone[id] = true
	}
	for _, c := range chains { // the status may still name a chain that just rotated
		if c.End != nil && c.Info.ID != st.Chain && !gone[c.Info.ID] {
			t.Fatalf("rotated chain %s was not pruned (deleted %v, active %s)", c.Info.ID, deleted, st.Chain)
		}
	}
	t.Logf("%d chains seen, %d pruned, active %s", len(chains), len(deleted), st.Chain)
}
