package dir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/storetest"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

func newFixture(t *testing.T) storetest.Fixture {
	t.Helper()
	d := filepath.Join(t.TempDir(), "backups")
	s, err := New(Options{Dir: d})
	if err != nil {
		t.Fatal(err)
	}
	return storetest.Fixture{Store: s, PutRaw: func(t *testing.T, name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(d, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}}
}

func TestContract(t *testing.T) { storetest.Run(t, newFixture) }

func TestNewRequiresDir(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrNoDir) {
		t.Fatalf("New without Dir: %v, want ErrNoDir", err)
	}
}

func TestPermissions(t *testing.T) {
	d := filepath.Join(t.TempDir(), "a", "b")
	s, err := New(Options{Dir: d})
	if err != nil {
		t.Fatal(err)
	}
	name := "dump-20261121193000.rdb"
	if err := s.Put(context.Background(), name, bytes.NewReader([]byte("x")), store.Meta{}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		d: 0o700 | os.ModeDir, filepath.Dir(d): 0o700 | os.ModeDir,
		filepath.Join(d, name): 0o600, filepath.Join(d, name+store.SidecarSuffix): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
}

// TestCrashLeavesTempFile simulates a crash during Put: the temp file is
// never listed and the next New removes it.
func TestCrashLeavesTempFile(t *testing.T) {
	d := t.TempDir()
	tmp := filepath.Join(d, ".tmp-123456")
	if err := os.WriteFile(tmp, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-staleTemp - time.Minute)
	if err := os.Chtimes(tmp, old, old); err != nil {
		t.Fatal(err)
	}
	s := &Store{dir: d} // as if still running when the crash happened
	if got := storetest.Names(t, s); len(got) != 0 {
		t.Fatalf("list with a temp file = %v", got)
	}
	if _, err := New(Options{Dir: d}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file still there after New: %v", err)
	}
}

// TestNewKeepsAnotherNodesUpload: nodes share the backup directory; one
// that starts (New) while another uploads must not remove the other's temp
// file, or its rename fails with "no such file or directory" (the
// reliability suite's sigterm-during-backup restarted a node under a
// replica's backup and did just that).
func TestNewKeepsAnotherNodesUpload(t *testing.T) {
	d := t.TempDir()
	a, pw, done := putInFlight(t, d)
	// The temp file exists: Put created it before it read the first byte.
	if _, err := New(Options{Dir: d}); err != nil { // another node starts
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("rest")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("the upload in flight failed after another node opened the store: %v", err)
	}
	if got := storetest.Names(t, a); len(got) != 1 {
		t.Fatalf("backups after the upload = %v, want the one", got)
	}
}

// putInFlight opens a store in d and starts a Put of a backup whose first
// MiB it has read; the rest is written to pw. done gets Put's error.
func putInFlight(t *testing.T, d string) (*Store, *io.PipeWriter, <-chan error) {
	t.Helper()
	a, err := New(Options{Dir: d})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := a.Put(context.Background(), "dump-20261121193000.rdb", pr, store.Meta{})
		// A Put that ends early must not leave the test's writes blocked
		// on the pipe for ever: they fail with its error instead.
		pr.CloseWithError(fmt.Errorf("the Put ended: %v", err))
		done <- err
	}()
	if _, err := pw.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	return a, pw, done
}

// cancelAtEOF cancels a Put's context when it has read the whole body, as
// a caller that gave up on a Put stuck in fsync does.
type cancelAtEOF struct {
	r      *bytes.Reader
	cancel context.CancelFunc
}

func (c cancelAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil {
		c.cancel()
	}
	return n, err
}

// TestPutAbandonedAfterBody: a Put whose context ends after it read the
// whole body (its caller stopped waiting) fails and leaves nothing, not
// even a temp file; it never renames the data into place.
func TestPutAbandonedAfterBody(t *testing.T) {
	d := t.TempDir()
	s, err := New(Options{Dir: d})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = s.Put(ctx, "dump-20261121193000.rdb", cancelAtEOF{bytes.NewReader([]byte("REDIS0011")), cancel}, store.Meta{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(d); len(entries) != 0 {
		t.Fatalf("an abandoned Put left %v", entries)
	}
}

// TestPutWhoseTempFileWasRemoved: an upload that wrote nothing for over
// staleTemp is taken for a crashed one, and another node's New removes its
// temp file. When its input comes back, the Put fails saying so, stores
// nothing, and leaves no file; before, it failed with a bare "rename
// .tmp-…: no such file or directory".
func TestPutWhoseTempFileWasRemoved(t *testing.T) {
	d := t.TempDir()
	_, pw, done := putInFlight(t, d)
	var tmps []string
	harness.Eventually(t, 10*time.Second, func() error { // the MiB read is written before its time is set back
		tmps, _ = filepath.Glob(filepath.Join(d, tmpPrefix+"*"))
		if len(tmps) != 1 {
			return fmt.Errorf("temp files during the Put: %v; want one", tmps)
		}
		if fi, err := os.Stat(tmps[0]); err != nil || fi.Size() != 1<<20 {
			return fmt.Errorf("temp file not yet written whole: %v", err)
		}
		return nil
	})
	old := time.Now().Add(-staleTemp - time.Minute) // the upload stalled for over an hour
	if err := os.Chtimes(tmps[0], old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Dir: d}); err != nil { // another node starts
		t.Fatal(err)
	}
	if _, err := os.Stat(tmps[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the stalled upload's temp file is still there: %v", err)
	}
	if _, err := pw.Write([]byte("rest")); err != nil { // the input comes back
		t.Fatal(err)
	}
	pw.Close()
	err := <-done
	if !errors.Is(err, ErrTempRemoved) || !strings.Contains(err.Error(), "take it again") {
		t.Fatalf("Put = %v, want ErrTempRemoved and what to do", err)
	}
	t.Logf("Put: %v", err)
	if entries, _ := os.ReadDir(d); len(entries) != 0 {
		t.Fatalf("the failed Put left %v", entries)
	}
}
