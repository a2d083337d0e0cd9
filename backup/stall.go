package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/internal/guard"
)

// DefaultStallTimeout is Options.StallTimeout's default
// (BACKUP_STALL_TIMEOUT).
const DefaultStallTimeout = 2 * time.Minute

// ErrStalled is wrapped when the store made no progress for
// Options.StallTimeout: the operation was abandoned and its context
// cancelled; last-backup was not changed.
var ErrStalled = errors.New("backup store stalled")

// stallWatch measures one store operation's progress. A store that stops
// answering (a hung Manta request, a frozen filesystem) must not hold the
// cluster's backup lock forever, and the call that hangs may sit in a
// syscall that ignores its context; so watched runs the operation on its
// own goroutine and abandons it when it stalls.
//
// Only time spent waiting on the store counts: a slow compressor is not a
// stalled store.
type stallWatch struct {
	timeout time.Duration
	store   string       // the store, for the error
	outcome string       // what was abandoned, for the error; default: a backup
	moved   atomic.Int64 // bytes the store took from us or gave us
	waiting atomic.Int32 // > 0 while we wait on the store
}

func newStallWatch(timeout time.Duration, s store.Store) *stallWatch {
	return &stallWatch{timeout: timeout, store: fmt.Sprint(s)}
}

// reader counts what the store takes from r (Put) or gives through r (Get).
func (w *stallWatch) reader(r io.Reader) io.Reader { return stallReader{r, w} }

// writer marks each Write to a pipe the store reads as waiting on it.
func (w *stallWatch) writer(wr io.Writer) io.Writer { return stallWriter{wr, w} }

// wait marks the rest of the operation as waiting on the store (the body
// is handed over; its answer is due).
func (w *stallWatch) wait() { w.waiting.Add(1) }

type stallReader struct {
	r io.Reader
	w *stallWatch
}

func (s stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.w.moved.Add(int64(n))
	return n, err
}

type stallWriter struct {
	wr io.Writer
	w  *stallWatch
}

func (s stallWriter) Write(p []byte) (int, error) {
	s.w.waiting.Add(1)
	defer s.w.waiting.Add(-1)
	return s.wr.Write(p)
}

func (w *stallWatch) err() error {
	outcome := w.outcome
	if outcome == "" {
		outcome = "this backup was abandoned and last-backup was not changed"
	}
	return fmt.Errorf("%s made no progress for %v (BACKUP_STALL_TIMEOUT): %w; %s; "+
		"check that the store answers (a hung mount, an unreachable Manta), or raise BACKUP_STALL_TIMEOUT if it is only slow",
		w.store, w.timeout, ErrStalled, outcome)
}

// watched runs op on its own goroutine and returns its result, or w's
// stall error as soon as op has waited on the store for w.timeout without
// progress. op's context is then cancelled and op is left to finish on its
// own: it must undo its effects when it wakes, whenever that is.
func watched[T any](ctx context.Context, w *stallWatch, op func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() { // the store's client reads a peer's replies: a panic is its error
		var r result
		defer func() { done <- r }()
		defer guard.Catch(&r.err, "backup store operation")
		// Bytes a store reports sending count as progress too (see
		// store.WithProgress).
		r.v, r.err = op(store.WithProgress(ctx, func(n int64) { w.moved.Add(n) }))
	}()
	tick := time.NewTicker(max(w.timeout/8, 10*time.Millisecond))
	defer tick.Stop()
	last, since := w.moved.Load(), time.Now()
	for {
		select {
		case r := <-done:
			cancel(nil)
			return r.v, r.err
		case now := <-tick.C:
			if m := w.moved.Load(); m != last || w.waiting.Load() == 0 {
				last, since = m, now
				continue
			}
			if now.Sub(since) < w.timeout {
				continue
			}
			err := w.err()
			cancel(err)
			var zero T
			return zero, err
		}
	}
}
