package dir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/storetest"
)

// TestObjectsTempFiles: a crashed Put's temp file is never listed; List
// removes it once nobody has written it for staleTemp, not before.
func TestObjectsTempFiles(t *testing.T) {
	d, o := newObjects(t)
	if err := o.Put(context.Background(), "c/seg", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	fresh, stale := filepath.Join(d, "pitr", "c", ".tmp-1"), filepath.Join(d, "pitr", "c", ".tmp-2")
	for _, p := range []string{fresh, stale} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-staleTemp - time.Minute)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if got := storetest.ObjectNames(t, o, ""); len(got) != 1 || got[0] != "c/seg" {
		t.Fatalf("list with temp files = %v, want [c/seg]", got)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file still there after List: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("List removed a fresh temp file (a Put in progress): %v", err)
	}
}

// TestObjectsNoSymlinks: a symbolic link in the namespace is neither
// listed nor read nor deleted through.
func TestObjectsNoSymlinks(t *testing.T) {
	d, o := newObjects(t)
	ctx := context.Background()
	if err := o.Put(ctx, "seg", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(d, "pitr", "link")); err != nil {
		t.Fatal(err)
	}
	if got := storetest.ObjectNames(t, o, ""); len(got) != 1 || got[0] != "seg" {
		t.Fatalf("list with a symlink = %v, want [seg]", got)
	}
	if _, err := o.Get(ctx, "link"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get through a symlink: %v, want ErrNotFound", err)
	}
	if _, err := o.Stat(ctx, "link"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stat of a symlink: %v, want ErrNotFound", err)
	}
	if err := o.Delete(ctx, "link"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete of a symlink: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(secret); err != nil {
		t.Errorf("the symlink's target: %v", err)
	}
}

// newObjects opens namespace "pitr" of a store in a new directory d.
func newObjects(t *testing.T) (d string, o store.Objects) {
	t.Helper()
	d = t.TempDir()
	s, err := New(Options{Dir: d})
	if err != nil {
		t.Fatal(err)
	}
	if o, err = s.Objects("pitr"); err != nil {
		t.Fatal(err)
	}
	return d, o
}
