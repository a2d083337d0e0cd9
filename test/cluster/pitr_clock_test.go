package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// applyClock measures when a replica that ships applied the master's
// writes. A restore to a second holds the writes whose AOF timestamp, the
// shipping node's clock when it applied them, is at or before it; a
// replica slowed by a loaded host applies a write the master acknowledged
// a second or more later (seen at load 28: acknowledged at :57.011, on the
// replica after :58). Each sample reads the master's replication offset,
// then waits until the node's reaches it: every write acknowledged before
// the read was applied on the node by the sample's end.
type applyClock struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	samples []applySample
}

type applySample struct{ read, applied time.Time }

func startApplyClock(master, node *redis.Client) *applyClock {
	ctx, cancel := context.WithCancel(context.Background())
	c := &applyClock{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for ctx.Err() == nil {
			read := time.Now()
			want, err := replOffset(ctx, master)
			if err != nil {
				_ = ctxtime.Sleep(ctx, 10*time.Millisecond)
				continue
			}
			for ctx.Err() == nil {
				if got, err := replOffset(ctx, node); err == nil && got >= want {
					c.mu.Lock()
					c.samples = append(c.samples, applySample{read, time.Now()})
					c.mu.Unlock()
					_ = ctxtime.Sleep(ctx, 20*time.Millisecond) // a bound to the 20 ms is enough
					break
				}
				_ = ctxtime.Sleep(ctx, 10*time.Millisecond)
			}
		}
	}()
	return c
}

func replOffset(ctx context.Context, cl *redis.Client) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := cl.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	return redisnode.ParseInfo(s).MasterReplOffset(), nil
}

func (c *applyClock) stop() {
	c.cancel()
	<-c.done
}

// appliedBy is when the node had applied a write acknowledged at acked,
// at the latest; false when no sample began after it.
func (c *applyClock) appliedBy(acked time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.samples {
		if !s.read.Before(acked) {
			return s.applied, true
		}
	}
	return time.Time{}, false
}

// String gives the samples taken and the longest wait among them.
func (c *applyClock) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var most time.Duration
	for _, s := range c.samples {
		most = max(most, s.applied.Sub(s.read))
	}
	return fmt.Sprintf("%d samples of the shipping node's apply lag, the longest %s", len(c.samples), most.Round(time.Millisecond))
}

// appliedSecond waits until node has applied everything master has taken
// so far and returns the second it has by then: a restore to it holds
// those writes (by the shipping node's clock, at or before it).
func appliedSecond(t *testing.T, master, node *redis.Client) int64 {
	t.Helper()
	ctx := nodes.Ctx(t, 30*time.Second)
	want, err := replOffset(ctx, master)
	if err != nil {
		t.Fatal(err)
	}
	nodes.WaitFor(t, 30*time.Second, func() error {
		got, err := replOffset(ctx, node)
		if err == nil && got < want {
			err = fmt.Errorf("the shipping node is at offset %d of the master's %d", got, want)
		}
		return err
	})
	return time.Now().Unix()
}
