package dir

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/hashicorp/go-hclog"
)

const hostileName = "dump-20261121193000.rdb"

// hostileStore is a store with one good backup whose directory a test
// then changes behind its back; the store's log is returned.
func hostileStore(t *testing.T) (*Store, string, *bytes.Buffer) {
	t.Helper()
	d := t.TempDir()
	logs := &bytes.Buffer{} // read only after within returned
	s, err := New(Options{Dir: d, Log: hclog.New(&hclog.LoggerOptions{Output: logs})})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), hostileName, strings.NewReader("REDIS0011"), store.Meta{}); err != nil {
		t.Fatal(err)
	}
	return s, d, logs
}

// within runs f on its own goroutine and fails the test if it has not
// returned after 10 s (a FIFO blocks an open for reading forever).
func within[T any](t *testing.T, what string, f func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s has not returned after 10 s", what)
	}
	panic("unreachable")
}

// mkfifo makes a FIFO at path; cleanup opens its write end so that an
// open blocked on it returns.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}

// A sidecar that is a symbolic link (to /dev/zero: an endless read), a
// FIFO (an open that never returns), a directory or larger than 64 KiB is
// not read: List returns at once, the backup is listed with a MetaErr (so
// it is neither a good candidate nor mistaken for a legacy backup), and a
// WARN names the file. Before the fix, /dev/zero ran the store out of
// memory and the FIFO hung List.
func TestHostileSidecar(t *testing.T) {
	cases := []struct {
		name, want string
		make       func(t *testing.T, path string)
	}{
		{"symlink to /dev/zero", "is a symbolic link", func(t *testing.T, p string) {
			if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
		}},
		{"FIFO", "is a FIFO", func(t *testing.T, p string) { mkfifo(t, p) }},
		{"directory", "is a directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"larger than 64 KiB", "sidecar larger than 64 KiB", func(t *testing.T, p string) {
			big := append([]byte(`{"size": 9, "pad": "`), bytes.Repeat([]byte("x"), 64<<10)...)
			if err := os.WriteFile(p, append(big, `"}`...), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, d, logs := hostileStore(t)
			side := filepath.Join(d, hostileName+store.SidecarSuffix)
			if err := os.Remove(side); err != nil {
				t.Fatal(err)
			}
			tc.make(t, side)
			list, err := within(t, "List", func() ([]store.Info, error) { return s.List(context.Background()) })
			if err != nil || len(list) != 1 {
				t.Fatalf("List = %+v, %v; want the one backup", list, err)
			}
			i := list[0]
			if i.MetaErr == nil || i.Meta != nil || i.Good() {
				t.Fatalf("a %s sidecar: Meta %+v, MetaErr %v; want a MetaErr", tc.name, i.Meta, i.MetaErr)
			}
			if !strings.Contains(i.MetaErr.Error(), tc.want) || !strings.Contains(i.MetaErr.Error(), side) {
				t.Errorf("MetaErr %q does not name %s and say %q", i.MetaErr, side, tc.want)
			}
			if out := logs.String(); !strings.Contains(out, "[WARN]") || !strings.Contains(out, side) {
				t.Errorf("no WARN naming %s in the log:\n%s", side, out)
			}
			st, err := within(t, "Stat", func() (store.Info, error) { return s.Stat(context.Background(), hostileName) })
			if err != nil || st.MetaErr == nil {
				t.Errorf("Stat = %+v, %v; want the backup with a MetaErr", st, err)
			}
		})
	}
}

// A backup name that is a symbolic link (even to a good backup), a FIFO or
// a directory is not listed (a WARN names it), and Stat and Get refuse it
// with ErrNotRegular instead of following or blocking on it.
func TestHostileData(t *testing.T) {
	cases := []struct {
		name string
		make func(t *testing.T, path, good string)
	}{
		{"symlink to a good backup", func(t *testing.T, p, good string) {
			if err := os.Symlink(good, p); err != nil {
				t.Fatal(err)
			}
		}},
		{"FIFO", func(t *testing.T, p, _ string) { mkfifo(t, p) }},
		{"directory", func(t *testing.T, p, _ string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, d, logs := hostileStore(t)
			name := "dump-20261121193500.rdb"
			path := filepath.Join(d, name)
			tc.make(t, path, filepath.Join(d, hostileName))
			list, err := within(t, "List", func() ([]store.Info, error) { return s.List(context.Background()) })
			if err != nil || len(list) != 1 || list[0].Name != hostileName {
				t.Fatalf("List = %+v, %v; want only %s", list, err, hostileName)
			}
			if out := logs.String(); !strings.Contains(out, "[WARN]") || !strings.Contains(out, path) {
				t.Errorf("no WARN naming %s in the log:\n%s", path, out)
			}
			if _, err := within(t, "Stat", func() (store.Info, error) { return s.Stat(context.Background(), name) }); !errors.Is(err, ErrNotRegular) {
				t.Errorf("Stat = %v, want ErrNotRegular", err)
			}
			rc, err := within(t, "Get", func() (*os.File, error) {
				rc, err := s.Get(context.Background(), name)
				f, _ := rc.(*os.File)
				return f, err
			})
			if rc != nil {
				rc.Close()
			}
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("Get = %v, want ErrNotRegular", err)
			}
		})
	}
}
