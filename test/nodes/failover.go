package nodes

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinels lists the sentinel addresses of the nodes added so far.
func (c *Cluster) Sentinels() []string {
	var out []string
	for _, n := range c.Nodes() {
		out = append(out, n.SentinelAddr())
	}
	return out
}

// RunCommand runs the redis-autopilot binary with args and the node's own
// environment, as `docker exec` into its container would, and returns its
// stdout, stderr and exit code (-1 when it could not run or timed out).
func (n *Node) RunCommand(timeout time.Duration, args ...string) (stdout, stderr string, code int) {
	n.c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(n.c.t), args...)
	cmd.Env = n.Env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && cmd.ProcessState == nil {
		code = -1
	}
	return strings.TrimSpace(out.String()), errb.String(), code
}

// FenceWatch polls a master's min-replicas-to-write every 2 ms and
// records when the node's write fence first went up.
type FenceWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	at     time.Time
}

// fenceValue is the min-replicas-to-write the node's fence sets.
const fenceValue = "1000000"

// WatchFence starts watching n's fence.
func (n *Node) WatchFence() *FenceWatch {
	ctx, cancel := context.WithCancel(context.Background())
	fw := &FenceWatch{cancel: cancel, done: make(chan struct{})}
	cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second, PoolSize: 1})
	go func() {
		defer close(fw.done)
		defer cl.Close()
		for ctx.Err() == nil {
			v, err := cl.ConfigGet(ctx, "min-replicas-to-write").Result()
			if err == nil && v["min-replicas-to-write"] == fenceValue {
				fw.mu.Lock()
				fw.at = time.Now()
				fw.mu.Unlock()
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return fw
}

// At returns when the fence went up, zero until it has.
func (fw *FenceWatch) At() time.Time {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.at
}

// Stop stops watching and returns when the fence went up (zero if never).
func (fw *FenceWatch) Stop() time.Time {
	fw.cancel()
	<-fw.done
	return fw.At()
}

// Events records the time of each event the given sentinels publish.
type Events struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	first  map[string]time.Time   // "channel" -> first time seen, any sentinel
	by     map[string]string      // "channel" -> the sentinel that published it first
	all    map[string][]time.Time // "channel" -> every time seen, any sentinel
}

// WatchEvents subscribes to every event of the sentinels at addrs.
func WatchEvents(addrs []string) (*Events, error) {
	ctx, cancel := context.WithCancel(context.Background())
	ev := &Events{cancel: cancel, first: map[string]time.Time{}, by: map[string]string{}, all: map[string][]time.Time{}}
	for _, a := range addrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a, DialTimeout: time.Second})
		ps := sc.PSubscribe(ctx, "*")
		// Bounded: go-redis waits for a pub/sub reply without a read
		// timeout, and a sentinel that accepts but never answers (stopped,
		// overloaded) would hang the test.
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := ps.Receive(rctx)
		rcancel()
		if err != nil {
			cancel()
			ps.Close()
			sc.Close()
			return nil, fmt.Errorf("subscribe to sentinel %s: %w", a, err)
		}
		ev.wg.Add(1)
		go func() {
			defer ev.wg.Done()
			defer sc.Close()
			defer ps.Close()
			for m := range ps.Channel() {
				ev.mu.Lock()
				now := time.Now()
				if _, ok := ev.first[m.Channel]; !ok {
					ev.first[m.Channel], ev.by[m.Channel] = now, a
				}
				ev.all[m.Channel] = append(ev.all[m.Channel], now)
				ev.mu.Unlock()
			}
		}()
		go func() { <-ctx.Done(); ps.Close() }()
	}
	return ev, nil
}

// First returns when channel was first published, and by which sentinel.
func (ev *Events) First(channel string) (time.Time, string) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.first[channel], ev.by[channel]
}

// All returns every time channel was published, by any sentinel, in the
// order seen.
func (ev *Events) All(channel string) []time.Time {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]time.Time(nil), ev.all[channel]...)
}

// Stop ends the subscriptions.
func (ev *Events) Stop() {
	ev.cancel()
	ev.wg.Wait()
}

// WaitSentinelKnowsReplicas waits until the node's sentinel lists n
// replicas of mymaster: Sentinel learns of replicas from the master's
// INFO every 10 s, and fails over only to one it knows.
func (n *Node) WaitSentinelKnowsReplicas(timeout time.Duration, want int) {
	n.c.t.Helper()
	s := redis.NewSentinelClient(&redis.Options{Addr: n.SentinelAddr()})
	defer s.Close()
	WaitFor(n.c.t, timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		rs, err := s.Replicas(ctx, "mymaster").Result()
		if err != nil || len(rs) < want {
			return fmt.Errorf("the sentinel of %s knows %d replicas (%v), want %d", n.Name, len(rs), err, want)
		}
		return nil
	})
}
