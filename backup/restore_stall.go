package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
)

// A restore runs on a node elected the first master, holding the
// bootstrap lock: a store that stops answering must not hold it (and the
// whole cluster's election) forever. Its store calls run under the same
// stall watch as a backup's upload (BACKUP_STALL_TIMEOUT): the download
// counts the bytes it gets as progress; a Stat or List has none to show,
// so it may take at most the stall timeout.

// restoreOutcome says what a stalled restore leaves.
const restoreOutcome = "the restore was abandoned and the data directory left as it was"

// stallGuard runs a store's Stat and List under a stall watch.
type stallGuard struct {
	store.Store
	timeout time.Duration
}

func (g stallGuard) Stat(ctx context.Context, name string) (store.Info, error) {
	return guarded(ctx, g, "stat "+name, func(ctx context.Context) (store.Info, error) { return g.Store.Stat(ctx, name) })
}

func (g stallGuard) List(ctx context.Context) ([]store.Info, error) {
	return guarded(ctx, g, "list", g.Store.List)
}

// String is the store's own description.
func (g stallGuard) String() string { return fmt.Sprint(g.Store) }

func guarded[T any](ctx context.Context, g stallGuard, what string, op func(context.Context) (T, error)) (T, error) {
	w := g.watch(what)
	w.wait()
	return watched(ctx, w, op)
}

// watch returns a stall watch on the store for the restore step what.
func (g stallGuard) watch(what string) *stallWatch {
	w := newStallWatch(g.timeout, g.Store)
	w.outcome = restoreOutcome + " (" + what + ")"
	return w
}

// watchOf is the stall watch for s, a restore's store (a stallGuard).
func watchOf(s store.Store, timeout time.Duration, what string) *stallWatch {
	if g, ok := s.(stallGuard); ok {
		return g.watch(what)
	}
	return stallGuard{s, timeout}.watch(what)
}
