package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/internal/guard"

	"github.com/hashicorp/consul/api"
)

var (
	// ErrLockLost is wrapped by Lock.Err when the lock went away while
	// held: its session was invalidated or not renewed in time, or the key
	// was released, deleted or taken by another session.
	ErrLockLost = errors.New("lock lost")
	// ErrLockReleased is wrapped by Lock.Err after Release.
	ErrLockReleased = errors.New("lock released")
)

const (
	// lockBlockWait bounds each blocking query on a lock key; ctx cancels
	// it sooner.
	lockBlockWait = 15 * time.Second
	// lockRetry is the pause before trying again when the key is free but
	// Consul refused it: another session's lock-delay is in effect.
	lockRetry = 250 * time.Millisecond
	// renewRetry is the pause after a failed session renewal.
	renewRetry = time.Second
	// renewTimeout bounds one renewal, and watchTimeout one blocking query
	// on a held key (Consul adds up to WaitTime/16 of jitter), so that an
	// agent that hangs instead of refusing connections is noticed too.
	renewTimeout = 3 * time.Second
	watchTimeout = lockBlockWait + 5*time.Second
	// cleanupTimeout bounds destroying the session of an attempt that did
	// not get the lock, when the caller's ctx may already be done.
	cleanupTimeout = 5 * time.Second
)

// Lock is a Consul lock on one key, held through a session of the local
// agent's node. The session has the node's serfHealth check, so a node
// that dies loses its locks; its behaviour is "release": when it is
// invalidated the key stays, with no session and the last holder's value.
// A Lock renews its session every SessionTTL/2 for as long as it is held.
//
// Holding is never certain: Lost is closed as soon as this process learns
// the lock is gone, and the caller must stop acting as the holder then.
// When the local agent cannot confirm the lock (an error while watching
// the key) the lock counts as lost at once: Consul may be handing it to
// someone else after only LockDelay, so riding out errors is unsafe.
// One case is slower: an agent that hangs without refusing connections is
// only noticed when renewal has failed for a SessionTTL, while Consul may
// already have declared its node failed and handed the lock on.
//
// consul/api's own Lock (api.Lock) is not used: after a holder dies it
// waits out the lock-delay in fixed steps of DefaultLockRetryTime (5 s,
// not settable), which would add up to 5 s to electing a master, where
// this one tries again after lockRetry; it is stopped by a channel, not a
// context; and its queries have no timeout of their own, so an agent that
// hangs holds it forever (here renewTimeout and watchTimeout bound each).
type Lock struct {
	r       *Registry
	key     string
	session string

	ctx    context.Context // ends the renew and watch goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup

	stopRenewal     chan struct{} // closed by tests: a holder that froze
	stopRenewalOnce sync.Once

	lost      chan struct{}
	mu        sync.Mutex // guards err
	err       error
	releaseMu sync.Mutex // serialises Release, guards released
	released  bool
}

// Acquire blocks until it holds key, ctx ends (the error then wraps
// ctx.Err()), or Consul fails. holder is stored as the key's value while
// it is held (e.g. this node's address), for operators to read. ctx bounds
// only the waiting: the lock is then held, and its session renewed, until
// Release or until it is lost.
func (r *Registry) Acquire(ctx context.Context, key, holder string) (*Lock, error) {
	l, _, err := r.acquire(ctx, key, holder, true)
	return l, err
}

// TryAcquire is Acquire without waiting: held is false, with a nil Lock
// and no error, when another session holds key or a lock-delay is in
// effect.
func (r *Registry) TryAcquire(ctx context.Context, key, holder string) (l *Lock, held bool, err error) {
	return r.acquire(ctx, key, holder, false)
}

func (r *Registry) acquire(ctx context.Context, key, holder string, wait bool) (*Lock, bool, error) {
	l, err := r.newLock(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("acquire lock %s: %w", key, err)
	}
	held, err := l.obtain(ctx, holder, wait)
	if err != nil || !held {
		l.abandon(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("acquire lock %s: %w", key, err)
		}
		return nil, false, nil
	}
	l.wg.Add(1)
	go l.watch()
	r.log.Info("lock acquired", "key", key, "session", l.session)
	return l, true, nil
}

// newLock creates the session and starts renewing it: a wait for the key
// can outlast the session's TTL.
func (r *Registry) newLock(ctx context.Context, key string) (*Lock, error) {
	entry := &api.SessionEntry{
		Name:      "redis-autopilot " + key,
		TTL:       r.sessionTTL.String(),
		LockDelay: r.lockDelay,
		Behavior:  api.SessionBehaviorRelease,
	}
	id, _, err := r.c.Session().Create(entry, writeOpts(ctx))
	if err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &Lock{r: r, key: key, session: id, ctx: lctx, cancel: cancel,
		stopRenewal: make(chan struct{}), lost: make(chan struct{})}
	l.wg.Add(1)
	go l.renew()
	return l, nil
}

// obtain tries to acquire the key with the session, and with wait, waits
// for the holder to go and tries again. It stops when the session is lost.
func (l *Lock) obtain(ctx context.Context, holder string, wait bool) (bool, error) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-l.lost:
			stop()
		case <-ctx.Done():
		}
	}()
	pair := &api.KVPair{Key: l.key, Value: []byte(holder), Session: l.session}
	for {
		ok, _, err := l.r.c.KV().Acquire(pair, writeOpts(ctx))
		if err != nil {
			return false, l.lostOr(fmt.Errorf("kv acquire with session %s: %w", l.session, err))
		}
		if ok || !wait {
			return ok, nil
		}
		if err := l.waitFree(ctx); err != nil {
			return false, l.lostOr(err)
		}
	}
}

// waitFree returns when the key has no holder any more. When it has none
// at first look, the acquire that just failed met a lock-delay, so it
// pauses lockRetry instead.
func (l *Lock) waitFree(ctx context.Context) error {
	var index uint64
	for first := true; ; first = false {
		q := &api.QueryOptions{WaitIndex: index, WaitTime: lockBlockWait}
		pair, meta, err := l.r.c.KV().Get(l.key, q.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("wait for the holder to go: %w", err)
		}
		if pair == nil || pair.Session == "" {
			if first {
				return ctxtime.Sleep(ctx, lockRetry)
			}
			return nil
		}
		index = nextIndex(index, meta.LastIndex)
	}
}

// lostOr returns why the lock was lost, if it was, else err.
func (l *Lock) lostOr(err error) error {
	if lost := l.Err(); lost != nil {
		return lost
	}
	return err
}

// abandon ends an attempt that did not get the lock.
func (l *Lock) abandon(ctx context.Context) {
	l.cancel()
	l.wg.Wait()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := l.r.c.Session().Destroy(l.session, writeOpts(ctx)); err != nil {
		l.r.log.Warn("destroy session of a failed lock attempt", "key", l.key, "session", l.session, "error", err)
	}
}

// renew renews the session every TTL/2. It gives the lock up as lost when
// Consul says the session is gone, or when it could not renew for a TTL:
// Consul invalidates it after 2×TTL, so giving up at one TTL leaves a
// margin for this node to stop acting as the holder first.
func (l *Lock) renew() {
	defer l.wg.Done()
	var perr error
	defer func() {
		if perr != nil {
			l.lose(perr)
		}
	}()
	defer guard.Catch(&perr, "renew the session")
	ttl := l.r.sessionTTL
	wait, last := ttl/2, time.Now()
	for {
		t := time.NewTimer(wait)
		select {
		case <-l.ctx.Done():
			t.Stop()
			return
		case <-l.stopRenewal:
			t.Stop()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(l.ctx, renewTimeout)
		entry, _, err := l.r.c.Session().Renew(l.session, writeOpts(ctx))
		cancel()
		switch {
		case l.ctx.Err() != nil:
			return
		case err != nil && time.Since(last) >= ttl:
			l.lose(fmt.Errorf("session %s not renewed for %s: %w", l.session, ttl, err))
			return
		case err != nil:
			l.r.log.Warn("session renewal failed", "key", l.key, "session", l.session, "error", err)
			wait = min(renewRetry, ttl-time.Since(last))
		case entry == nil:
			l.lose(fmt.Errorf("session %s no longer exists", l.session))
			return
		default:
			wait, last = ttl/2, time.Now()
		}
	}
}

// watch follows the key with blocking queries while the lock is held and
// gives the lock up as lost when the key no longer names our session, or
// when a query fails.
func (l *Lock) watch() {
	defer l.wg.Done()
	var perr error
	defer func() {
		if perr != nil {
			l.lose(perr)
		}
	}()
	defer guard.Catch(&perr, "watch the lock")
	var index uint64
	for {
		pair, meta, err := l.watchOnce(index)
		switch {
		case l.ctx.Err() != nil:
			return
		case err != nil:
			l.lose(fmt.Errorf("cannot confirm the lock: %w", err))
			return
		case pair == nil:
			l.lose(errors.New("the key was deleted"))
			return
		case pair.Session == "":
			l.lose(fmt.Errorf("the key was released (session %s invalidated?)", l.session))
			return
		case pair.Session != l.session:
			l.lose(fmt.Errorf("the key is held by session %s, not ours (%s)", pair.Session, l.session))
			return
		}
		index = nextIndex(index, meta.LastIndex)
	}
}

func (l *Lock) watchOnce(index uint64) (*api.KVPair, *api.QueryMeta, error) {
	ctx, cancel := context.WithTimeout(l.ctx, watchTimeout)
	defer cancel()
	q := &api.QueryOptions{WaitIndex: index, WaitTime: lockBlockWait, RequireConsistent: true}
	return l.r.c.KV().Get(l.key, q.WithContext(ctx))
}

// finish records why the lock is no longer held and closes Lost, once.
func (l *Lock) finish(err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return false
	}
	l.err = err
	close(l.lost)
	return true
}

func (l *Lock) lose(cause error) {
	if l.finish(fmt.Errorf("lock %s: %w: %w", l.key, ErrLockLost, cause)) {
		l.r.log.Warn("lock lost", "key", l.key, "session", l.session, "reason", cause)
	}
	l.cancel()
}

// Lost is closed when the lock is no longer held: lost (see Err) or
// released.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err is nil while the lock is held; then it says why not, wrapping
// ErrLockLost or ErrLockReleased.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Release gives the lock up: it stops renewing, releases the key (so a
// waiting contender gets it at once, with no lock-delay; the key's value
// becomes empty) and destroys the session. Lost is closed afterwards.
// When the lock had been lost already, only the session is destroyed.
// Release is idempotent: later calls return nil. If its requests fail,
// nobody renews the session any more and Consul invalidates it within
// 2×SessionTTL.
func (l *Lock) Release(ctx context.Context) error {
	l.releaseMu.Lock()
	defer l.releaseMu.Unlock()
	if l.released {
		return nil
	}
	l.released = true
	wasLost := l.Err() != nil
	l.cancel()
	l.wg.Wait()
	l.finish(fmt.Errorf("lock %s: %w", l.key, ErrLockReleased))
	var errs []error
	if !wasLost {
		pair := &api.KVPair{Key: l.key, Session: l.session}
		if _, _, err := l.r.c.KV().Release(pair, writeOpts(ctx)); err != nil {
			errs = append(errs, fmt.Errorf("release key: %w", err))
		}
	}
	if _, err := l.r.c.Session().Destroy(l.session, writeOpts(ctx)); err != nil {
		errs = append(errs, fmt.Errorf("destroy session %s: %w", l.session, err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("release lock %s: %w", l.key, err)
	}
	l.r.log.Info("lock released", "key", l.key, "session", l.session)
	return nil
}

// stopRenewing makes the lock behave as if its holder froze: the session
// is no longer renewed. For tests.
func (l *Lock) stopRenewing() {
	l.stopRenewalOnce.Do(func() { close(l.stopRenewal) })
}

// nextIndex is the WaitIndex for the next blocking query, reset when
// Consul's index went backwards (as its documentation asks).
func nextIndex(prev, last uint64) uint64 {
	if last < prev {
		return 0
	}
	return last
}
