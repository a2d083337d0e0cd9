package pitr

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// consulRegistry starts a Consul for the test and returns a client.
func consulRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	consul := harness.StartConsul(t)
	reg, err := registry.New(registry.Options{API: consul.APIConfig()})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// Two nodes and a real Consul: exactly one ships at a time, its progress
// reaches Consul, and when it stops its chain ends and the other node
// takes over with a new chain.
func TestRunClusterOneShipperAtATime(t *testing.T) {
	reg, cs := consulRegistry(t), chainStore(t)
	var shipping, most atomic.Int32
	holders := make(chan string, 4)
	run := func(r *harness.Redis) context.CancelFunc {
		c := redisnode.Dial(r.Addr, "")
		t.Cleanup(func() { c.Close() })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		o := ClusterOptions{Registry: reg, Check: 200 * time.Millisecond,
			Shipper: ShipperOptions{Node: RedisNode{C: c}, DataDir: r.Dir, Store: cs, Holder: r.Addr, Interval: 100 * time.Millisecond},
			Node: func(ctx context.Context) (string, bool) {
				info, err := c.Info(ctx)
				return info.Role(), err == nil
			},
			Shipping: func(sh *Shipper) {
				if sh == nil {
					shipping.Add(-1)
					return
				}
				for n := shipping.Add(1); ; {
					if m := most.Load(); n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				holders <- r.Addr
			},
		}
		go func() { defer close(done); RunCluster(ctx, o) }()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return stop
	}
	r1, r2 := startAOFRedis(t), startAOFRedis(t)
	stops := map[string]context.CancelFunc{r1.Addr: run(r1), r2.Addr: run(r2)}
	first := <-holders
	harness.Eventually(t, 20*time.Second, func() error {
		v, found, err := reg.Get(context.Background(), KeyProgress)
		var st Status
		if err == nil && found {
			err = json.Unmarshal([]byte(v), &st)
		}
		if err != nil || st.Node != first || st.Chain == "" {
			return fmt.Errorf("progress %q (%v), want the chain of %s", v, err, first)
		}
		return nil
	})
	stops[first]()
	second := <-holders
	if second == first || most.Load() != 1 {
		t.Fatalf("holders %s then %s, at most %d shipping at once", first, second, most.Load())
	}
	harness.Eventually(t, 20*time.Second, func() error {
		chains, err := cs.Chains(context.Background())
		if err != nil {
			return err
		}
		byNode := map[string]Chain{}
		for _, c := range chains {
			byNode[c.Info.Node] = c
		}
		if len(chains) != 2 || byNode[first].End == nil || byNode[second].Info.ID == "" {
			return fmt.Errorf("chains %+v: want the first node's chain ended and the second's started", chains)
		}
		return nil
	})
}
