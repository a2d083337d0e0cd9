package pitr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// errInjected is every failure faultyObjects makes.
var errInjected = errors.New("injected store failure")

// Modes of faultyObjects' Puts.
const (
	storeUp int32 = iota
	storeFails
	storeStalls
)

// faultyObjects is the one fake of a store that misbehaves: a real store
// whose Puts fail at once or stall until their context ends while mode
// says so, and whose Deletes fail once deletesLeft have succeeded.
type faultyObjects struct {
	store.Objects
	mode        atomic.Int32 // storeUp, storeFails or storeStalls
	failed      atomic.Int64 // Puts refused
	deletesLeft atomic.Int64 // Deletes that succeed before every later one fails
}

// newFaultyObjects wraps o, up and with no limit on Deletes.
func newFaultyObjects(o store.Objects) *faultyObjects {
	f := &faultyObjects{Objects: o}
	f.deletesLeft.Store(math.MaxInt64)
	return f
}

func (f *faultyObjects) Put(ctx context.Context, name string, r io.Reader) error {
	switch f.mode.Load() {
	case storeFails:
		f.failed.Add(1)
		return fmt.Errorf("put %s: %w", name, errInjected)
	case storeStalls:
		<-ctx.Done()
		return ctx.Err()
	}
	return f.Objects.Put(ctx, name, r)
}

func (f *faultyObjects) Delete(ctx context.Context, name string) error {
	if f.deletesLeft.Add(-1) < 0 {
		return fmt.Errorf("delete %s: %w", name, errInjected)
	}
	return f.Objects.Delete(ctx, name)
}

// faultyStore is a chain store on a fresh directory store through
// faultyObjects.
func faultyStore(t *testing.T) (*faultyObjects, *ChainStore) {
	t.Helper()
	st, err := dir.New(dir.Options{Dir: harness.TempDir(t, "store-")})
	if err != nil {
		t.Fatal(err)
	}
	o, err := st.Objects(Prefix)
	if err != nil {
		t.Fatal(err)
	}
	f := newFaultyObjects(o)
	return f, &ChainStore{Objects: f}
}
