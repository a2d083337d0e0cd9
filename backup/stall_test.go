package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
)

const testStallTimeout = 2 * time.Second

// stallSlack is how late past the stall timeout a stalled backup may
// return: the watch's tick, the failed attempt's bookkeeping, a busy
// machine.
const stallSlack = 2 * time.Second

// checkStallError checks a stalled backup's error names the store, the
// timeout and that last-backup was kept.
func checkStallError(t *testing.T, err error, s store.Store, took time.Duration) {
	t.Helper()
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("backup on a stalled store = %v, want ErrStalled", err)
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
	for _, want := range []string{fmt.Sprint(s), "no progress for 2s (BACKUP_STALL_TIMEOUT)", "last-backup was not changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the stall error does not say %q", want)
		}
	}
	if took > testStallTimeout+stallSlack {
		t.Errorf("the stalled backup returned after %v; stall timeout %v", took, testStallTimeout)
	}
}

// A Manta request that hangs (the data PUT, or the data GET of the
// verification) fails the backup within the stall timeout: last-backup
// is unchanged, nothing stays in the store under the backup's name, and
// the lock is free, so the next run takes a backup.
func TestSchedulerStalledManta(t *testing.T) {
	consul := harness.StartConsul(t)
	log, sink := testLog(t)
	r, c := startRedis(t)
	fill(t, r.Client, 3000)
	reg := newRegistry(t, consul, log)
	cases := []struct {
		name   string
		faults func(prefix string) []mantaserver.Fault
	}{
		{"PUT", func(p string) []mantaserver.Fault {
			return []mantaserver.Fault{{Method: "PUT", PathPrefix: p, Count: 1, Kind: mantaserver.Stall}}
		}},
		{"GET during verification", func(p string) []mantaserver.Fault {
			// The sidecar's path starts with the data's, and Stat reads
			// it first: a fast Slow fault lets that GET through.
			return []mantaserver.Fault{
				{Method: "GET", PathPrefix: p + store.SidecarSuffix, Count: 1, Kind: mantaserver.Slow, Rate: 1 << 30},
				{Method: "GET", PathPrefix: p, Count: 1, Kind: mantaserver.Stall},
			}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, srv, _ := mantaStore(t, log, sink)
			ctx := testCtx(t, time.Minute)
			if err := reg.Put(ctx, registry.KeyLastBackup, oldBackup); err != nil {
				t.Fatal(err)
			}
			at := time.Now().UTC().Add(time.Duration(i) * time.Hour).Truncate(time.Second)
			stalled, _ := store.Name(at, "zstd")
			data := "/" + srv.Account + "/stor/redis-backups/" + stalled
			for _, f := range tc.faults(data) {
				srv.Inject(f)
			}
			clock := at
			sch, err := NewScheduler(SchedulerOptions{
				Backup: Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd",
					StallTimeout: testStallTimeout, Now: func() time.Time { return clock }},
				Registry: reg, Node: fixedRole(redisnode.RoleMaster, true), Holder: "n1",
				Interval: time.Second, TTL: time.Hour, Log: log,
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = sch.Tick(ctx)
			// Timed from the request that stalled: the upload before a
			// stalled read-back may itself take seconds on a loaded host.
			checkStallError(t, err, s, time.Since(srv.FaultedAt()))
			if got, _, _ := reg.Get(ctx, registry.KeyLastBackup); got != oldBackup {
				t.Fatalf("last-backup changed to %q after a stalled backup", got)
			}
			harness.Eventually(t, 10*time.Second, func() error {
				for _, o := range srv.Objects() {
					if strings.HasPrefix(o, data) {
						return errors.New("the store still holds " + o)
					}
				}
				return nil
			})
			srv.ClearFaults()
			clock = at.Add(time.Second)
			d, err := sch.Tick(ctx) // the lock was released: the next run backs up
			if err != nil || d.Backup == "" {
				t.Fatalf("after the stall: Tick = %+v, %v", d, err)
			}
			if got, _, _ := reg.Get(ctx, registry.KeyLastBackup); got != d.Backup {
				t.Fatalf("last-backup %q, want %s", got, d.Backup)
			}
		})
	}
}

// inFlight counts a store's Puts and Deletes that have not returned, to
// wait for the ones a stalled backup abandoned.
type inFlight struct {
	store.Store
	n atomic.Int32
}

func (s *inFlight) Put(ctx context.Context, name string, r io.Reader, meta store.Meta) error {
	s.n.Add(1)
	defer s.n.Add(-1)
	return s.Store.Put(ctx, name, r, meta)
}

func (s *inFlight) Delete(ctx context.Context, name string) error {
	s.n.Add(1)
	defer s.n.Add(-1)
	return s.Store.Delete(ctx, name)
}

func (s *inFlight) String() string { return fmt.Sprint(s.Store) }

// frozenFS mounts a fresh small ext4 image and returns its mount point
// and a command to run fsfreeze on it; the test is skipped where loop
// mounts or fsfreeze are not possible. Cleanup unfreezes and unmounts.
func frozenFS(t *testing.T) (string, func(op string)) {
	t.Helper()
	for _, bin := range []string{"mkfs.ext4", "mount", "umount", "fsfreeze"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not on PATH: cannot freeze a filesystem here", bin)
		}
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("truncate", "-s", "64M", img).CombinedOutput(); err != nil {
		t.Fatalf("truncate: %v: %s", err, out)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount an ext4 image here (needs root and loop devices): %v: %s", err, out)
	}
	t.Cleanup(func() {
		// An abandoned Put may still be closing its file.
		err := harness.Wait(10*time.Second, func() error {
			if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
				return errors.New(strings.TrimSpace(string(out)))
			}
			return nil
		})
		if err != nil {
			t.Errorf("umount %s: %v; detaching it lazily", mnt, err)
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	frozen := false
	freeze := func(op string) {
		t.Helper()
		if out, err := exec.Command("fsfreeze", op, mnt).CombinedOutput(); err != nil {
			t.Fatalf("fsfreeze %s: %v: %s", op, err, out)
		}
		frozen = op == "--freeze"
	}
	if out, err := exec.Command("fsfreeze", "--freeze", mnt).CombinedOutput(); err != nil {
		t.Skipf("fsfreeze is not possible here: %v: %s", err, out)
	}
	freeze("--unfreeze")
	t.Cleanup(func() {
		if frozen {
			freeze("--unfreeze")
		}
	})
	return mnt, freeze
}

// A directory store on a frozen filesystem (open and write block in the
// kernel, whatever the context says) fails the backup within the stall
// timeout. Once thawed, the abandoned Put removes its temp file and
// renames nothing into place, and the next backup succeeds.
func TestBackupStalledFrozenDir(t *testing.T) {
	mnt, freeze := frozenFS(t)
	log, _ := testLog(t)
	r, c := startRedis(t)
	fill(t, r.Client, 1000)
	path := filepath.Join(mnt, "backups")
	s := &inFlight{Store: dirStoreAt(t, path)}
	o := Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd", StallTimeout: testStallTimeout, Log: log}

	freeze("--freeze")
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := Backup(testCtx(t, time.Minute), o)
		done <- err
	}()
	select {
	case err := <-done:
		checkStallError(t, err, s, time.Since(start))
		freeze("--unfreeze")
	case <-time.After(testStallTimeout + 10*time.Second):
		freeze("--unfreeze") // else the test binary cannot even exit
		t.Fatalf("Backup on a frozen store has not returned after %v", time.Since(start))
	}
	harness.Eventually(t, 30*time.Second, func() error {
		if n := s.n.Load(); n > 0 {
			return errors.New("the abandoned Put or Delete has not returned")
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			return errors.New("left in the store: " + entries[0].Name())
		}
		return nil
	})

	info, err := Backup(testCtx(t, time.Minute), o)
	if err != nil {
		t.Fatalf("backup after the thaw: %v", err)
	}
	if n := names(t, s); len(n) != 1 || n[0] != info.Name {
		t.Fatalf("store lists %v, want [%s]", n, info.Name)
	}
}
