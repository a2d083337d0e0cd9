package pitr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestParentFileRoundTrip: what a restore leaves is read back, and a file
// that names no chain is refused.
func TestParentFileRoundTrip(t *testing.T) {
	d := harness.TempDir(t, "data-")
	if _, found, err := ReadParentFile(d); found || err != nil {
		t.Fatalf("no file: found %v, %v", found, err)
	}
	id, _ := NewChainID(time.Now())
	p := Plan{Chain: Chain{Info: ChainInfo{ID: id, BaseTS: 100}, Segments: []Segment{{Range: Range{Start: 0, End: 5, FirstTS: 150, LastTS: 160}}}}, Target: Latest}
	must(t, WriteParentFile(d, RestoredTo(p)))
	ref, found, err := ReadParentFile(d)
	if err != nil || !found || ref != (ParentRef{Chain: id, TS: 160}) {
		t.Fatalf("read %+v %v %v, want %s at 160 (latest: the chain's last second)", ref, found, err, id)
	}
	must(t, RemoveParentFile(d))
	must(t, WriteParentFile(d, ParentRef{Chain: "x", TS: 1}))
	if _, _, err := ReadParentFile(d); err == nil {
		t.Fatal("a parent naming no chain was accepted")
	}
}

// TestRunClusterRecordsParent (real Consul): a shipper that finds
// KeyParent records it in its chain's chain.json and deletes the key;
// the next chain names no parent.
func TestRunClusterRecordsParent(t *testing.T) {
	reg, cs := consulRegistry(t), chainStore(t)
	ctx := context.Background()
	parentID, _ := NewChainID(time.Now().Add(-time.Hour))
	parent := ParentRef{Chain: parentID, TS: time.Now().Add(-30 * time.Minute).Unix()}
	v, _ := json.Marshal(parent)
	must(t, reg.Put(ctx, KeyParent, string(v)))
	r := startAOFRedis(t)
	c := redisnode.Dial(r.Addr, "")
	t.Cleanup(func() { c.Close() })
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunCluster(rctx, ClusterOptions{Registry: reg, Check: 200 * time.Millisecond,
			Shipper: ShipperOptions{Node: RedisNode{C: c}, DataDir: r.Dir, Store: cs, Holder: r.Addr,
				Interval: 100 * time.Millisecond, MaxAge: time.Second},
			Node: func(context.Context) (string, bool) { return redisnode.RoleMaster, true }})
	}()
	defer func() { cancel(); <-done }()
	harness.Eventually(t, 30*time.Second, func() error {
		must(t, r.Client.Incr(ctx, "writes").Err())
		chains, err := cs.Chains(ctx)
		if err != nil || len(chains) < 2 {
			return fmt.Errorf("%d chains (%v), want a second one after a rotation", len(chains), err)
		}
		withParent := 0
		for _, ch := range chains {
			if ch.Info.Parent != "" {
				withParent++
				if ch.Info.Parent != parent.Chain || ch.Info.ParentTS != parent.TS {
					t.Fatalf("chain %s names parent %s at %d, want %+v", ch.Info.ID, ch.Info.Parent, ch.Info.ParentTS, parent)
				}
			}
		}
		if withParent != 1 {
			return fmt.Errorf("%d chains name the parent, want the first only", withParent)
		}
		if _, found, err := reg.Get(ctx, KeyParent); err != nil || found {
			return errors.New("the parent key is still in Consul")
		}
		return nil
	})
}
