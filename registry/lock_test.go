package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

const testKey = KeyMasterLock

// acquire takes key on r and releases it when the test ends.
func acquire(t *testing.T, r *Registry, holder string) *Lock {
	t.Helper()
	l, err := r.Acquire(testCtx(t), testKey, holder)
	if err != nil {
		t.Fatalf("Acquire as %s: %v", holder, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.Release(ctx)
	})
	return l
}

// acquireAsync starts Acquire in the background; the channel gets its lock.
func acquireAsync(t *testing.T, r *Registry, holder string) <-chan *Lock {
	t.Helper()
	ch := make(chan *Lock, 1)
	go func() {
		l, err := r.Acquire(testCtx(t), testKey, holder)
		if err != nil {
			t.Errorf("Acquire as %s: %v", holder, err)
			close(ch)
			return
		}
		ch <- l
	}()
	return ch
}

// within waits for ch for at most d.
func within[T any](t *testing.T, d time.Duration, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: not within %s", what, d)
	}
	var zero T
	return zero
}

// holderOf returns the session that holds the key and its value.
func holderOf(t *testing.T, r *Registry) (session, value string) {
	t.Helper()
	pair, _, err := r.c.KV().Get(testKey, queryOpts(testCtx(t)))
	if err != nil || pair == nil {
		t.Fatalf("read %s: %v %v", testKey, pair, err)
	}
	return pair.Session, string(pair.Value)
}

func TestLockOneHolderThenHandover(t *testing.T) {
	t.Parallel()
	c := harness.StartConsul(t)
	a, b := newRegistry(t, c, Options{}), newRegistry(t, c, Options{})
	ctx := testCtx(t)

	la := acquire(t, a, "node-a")
	if s, v := holderOf(t, a); s != la.session || v != "node-a" {
		t.Fatalf("key held by %q with value %q, want %q with node-a", s, v, la.session)
	}
	if l, held, err := b.TryAcquire(ctx, testKey, "node-b"); err != nil || held || l != nil {
		t.Fatalf("TryAcquire while held: %v %v %v, want not held", l, held, err)
	}

	waiting := acquireAsync(t, b, "node-b")
	select {
	case <-waiting:
		t.Fatal("second contender got the lock while the first holds it")
	case <-time.After(500 * time.Millisecond):
	}

	start := time.Now()
	if err := la.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	lb := within(t, 3*time.Second, waiting, "second contender acquires after Release")
	if lb == nil {
		t.FailNow()
	}
	defer lb.Release(ctx)
	t.Logf("handover took %s", time.Since(start))
	if s, v := holderOf(t, b); s != lb.session || v != "node-b" {
		t.Fatalf("key held by %q with value %q, want %q with node-b", s, v, lb.session)
	}
	within(t, time.Second, la.Lost(), "Lost closed after Release")
	if !errors.Is(la.Err(), ErrLockReleased) {
		t.Fatalf("Err after Release: %v, want ErrLockReleased", la.Err())
	}
	if err := la.Release(ctx); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if lb.Err() != nil {
		t.Fatalf("new holder's Err: %v", lb.Err())
	}
}

func TestLockAcquireGivesUpWithCtx(t *testing.T) {
	t.Parallel()
	c := harness.StartConsul(t)
	a, b := newRegistry(t, c, Options{}), newRegistry(t, c, Options{})
	la := acquire(t, a, "node-a")

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(ctx, testKey, "node-b"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire while held, 500ms deadline: %v, want DeadlineExceeded", err)
	}
	sessions, _, err := c.Client.Session().List(nil)
	if err != nil {
		t.Fatalf("list sessions: %v", err)
	}
	if len(sessions) != 1 || sessions[0].ID != la.session {
		t.Fatalf("sessions after a failed attempt: %+v, want only the holder's", sessions)
	}
}

func TestLockContendersTakeTurns(t *testing.T) {
	t.Parallel()
	c := harness.StartConsul(t)
	var holders, turns atomic.Int32
	var wg sync.WaitGroup
	for i := range 3 {
		r := newRegistry(t, c, Options{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := testCtx(t)
			l, err := r.Acquire(ctx, testKey, fmt.Sprint("node-", i))
			if err != nil {
				t.Errorf("contender %d: %v", i, err)
				return
			}
			if n := holders.Add(1); n != 1 {
				t.Errorf("contender %d holds the lock with %d holders", i, n)
			}
			pair, _, err := r.c.KV().Get(testKey, queryOpts(ctx))
			if err != nil || pair == nil || pair.Session != l.session {
				t.Errorf("contender %d holds the lock but the key says %+v (%v)", i, pair, err)
			}
			turns.Add(1)
			holders.Add(-1)
			if err := l.Release(ctx); err != nil {
				t.Errorf("contender %d release: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if turns.Load() != 3 {
		t.Fatalf("%d of 3 contenders got a turn", turns.Load())
	}
}

func TestLockLost(t *testing.T) {
	t.Parallel()
	c := harness.StartConsul(t)
	tests := []struct {
		name  string
		cause func(t *testing.T, l *Lock)
	}{
		{"session destroyed", func(t *testing.T, l *Lock) {
			if _, err := c.Client.Session().Destroy(l.session, nil); err != nil {
				t.Fatalf("destroy session: %v", err)
			}
		}},
		{"key deleted", func(t *testing.T, l *Lock) {
			if _, err := c.Client.KV().Delete(testKey, nil); err != nil {
				t.Fatalf("delete key: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newRegistry(t, c, Options{}), newRegistry(t, c, Options{})
			la := acquire(t, a, "node-a")
			waiting := acquireAsync(t, b, "node-b")
			start := time.Now()
			tt.cause(t, la)
			within(t, 2*time.Second, la.Lost(), "Lost closed")
			t.Logf("lost after %s: %v", time.Since(start), la.Err())
			if !errors.Is(la.Err(), ErrLockLost) {
				t.Fatalf("Err: %v, want ErrLockLost", la.Err())
			}
			lb := within(t, 5*time.Second, waiting, "other contender acquires")
			if lb == nil {
				t.FailNow()
			}
			if err := la.Release(context.Background()); err != nil {
				t.Fatalf("Release of a lost lock: %v", err)
			}
			if s, _ := holderOf(t, b); s != lb.session {
				t.Fatalf("Release of the lost lock touched the new holder's key: held by %q, want %q", s, lb.session)
			}
			if err := lb.Release(context.Background()); err != nil {
				t.Fatalf("Release: %v", err)
			}
		})
	}
}

// TestLockLostWhenRenewalStops runs two holders with Consul's shortest
// session TTL: the one whose renewal stops (a frozen holder) loses its lock
// to the waiting contender after about 2×TTL; the one that renews keeps
// its own lock past that.
func TestLockLostWhenRenewalStops(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 10s session TTL to lapse (about 20s)")
	}
	t.Parallel()
	c := harness.StartConsul(t)
	o := Options{SessionTTL: minSessionTTL}
	a, b := newRegistry(t, c, o), newRegistry(t, c, o)
	kept, err := a.Acquire(testCtx(t), "service/redis/locks/renewed", "node-a")
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	defer kept.Release(context.Background())
	frozen := acquire(t, a, "node-a")
	frozen.stopRenewing()
	start := time.Now()
	waiting := acquireAsync(t, b, "node-b")

	within(t, 2*minSessionTTL+5*time.Second, frozen.Lost(), "Lost closed once renewal stopped")
	lost := time.Since(start)
	t.Logf("lost after %s: %v", lost, frozen.Err())
	if lost < minSessionTTL {
		t.Fatalf("lost after %s, before the session TTL %s", lost, minSessionTTL)
	}
	lb := within(t, 5*time.Second, waiting, "other contender acquires")
	if lb == nil {
		t.FailNow()
	}
	defer lb.Release(context.Background())
	if kept.Err() != nil {
		t.Fatalf("the renewed lock was lost too: %v", kept.Err())
	}
	if s, _, err := c.Client.Session().Info(kept.session, nil); err != nil || s == nil {
		t.Fatalf("the renewed lock's session is gone: %v %v", s, err)
	}
}

// TestLockLostWhenNodeDies holds the lock through a client agent, as every
// node does, and kills that agent: Consul invalidates the session when the
// node's serfHealth fails and the contender gets the lock. The holder,
// unable to confirm the lock, must have given it up by then.
func TestLockLostWhenNodeDies(t *testing.T) {
	t.Parallel()
	server := harness.StartConsul(t)
	agent := server.StartClientAgent(t)
	a := newRegistry(t, agent, Options{})
	b := newRegistry(t, server, Options{})
	la := acquire(t, a, "node-a")
	s, _, err := server.Client.Session().Info(la.session, nil)
	if err != nil || s == nil {
		t.Fatalf("session info: %v %v", s, err)
	}
	if s.Node != agent.Node || fmt.Sprint(s.NodeChecks) != "[serfHealth]" || s.Behavior != "release" {
		t.Fatalf("session %+v: want node %s, node checks [serfHealth], behaviour release", s, agent.Node)
	}
	waiting := acquireAsync(t, b, "node-b")

	agent.Kill()
	start := time.Now()
	within(t, 2*time.Second, la.Lost(), "holder gives the lock up")
	t.Logf("holder gave up %s after the kill: %v", time.Since(start), la.Err())
	if !errors.Is(la.Err(), ErrLockLost) {
		t.Fatalf("Err: %v, want ErrLockLost", la.Err())
	}
	lb := within(t, 30*time.Second, waiting, "contender acquires after the holder's node died")
	t.Logf("contender acquired %s after the kill", time.Since(start))
	defer lb.Release(context.Background())
}

// TestLockLostWhenAgentHangs freezes the holder's agent, which then neither
// answers nor refuses: the watch hangs, and the holder gives the lock up
// when it could not renew its session for a TTL.
func TestLockLostWhenAgentHangs(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 10s session TTL")
	}
	t.Parallel()
	agent := harness.StartConsul(t).StartClientAgent(t)
	a := newRegistry(t, agent, Options{SessionTTL: minSessionTTL})
	la := acquire(t, a, "node-a")
	t.Cleanup(func() { agent.Signal(syscall.SIGCONT) }) // before la's Release
	if err := agent.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("freeze the agent: %v", err)
	}
	start := time.Now()
	within(t, minSessionTTL+renewTimeout+2*time.Second, la.Lost(), "holder gives the lock up")
	t.Logf("holder gave up %s after the freeze: %v", time.Since(start), la.Err())
	if !errors.Is(la.Err(), ErrLockLost) || !strings.Contains(la.Err().Error(), "not renewed") {
		t.Fatalf("Err: %v, want ErrLockLost for a session not renewed", la.Err())
	}
}
