package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
)

// Corrupt and truncated backups are refused with a clear error naming the
// backup and the check, and leave the data directory as it was.
func TestRestoreRefusesBadBackups(t *testing.T) {
	log, _ := testLog(t)
	r, path, s, info := backupToDir(t, log, 1000)
	good, err := os.ReadFile(filepath.Join(path, info.Name))
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := os.ReadFile(filepath.Join(r.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, at int) []byte {
		b = append([]byte(nil), b...)
		b[at] ^= 0xff
		return b
	}
	sup := startSup(t, log)
	gz := gzipped(t, rdb)
	cases := []struct {
		name, file string
		data       []byte
		want       string // in the error
	}{
		{"flipped bytes", info.Name, flip(good, len(good)/2), "sha256"},
		{"truncated", info.Name, good[:len(good)/2], "truncated"},
		{"legacy gzip truncated", "dump-20200101000000.rdb.gz", gz[:len(gz)/2], "decompress"},
		{"legacy rdb corrupt", "dump-20200101000000.rdb", flip(rdb, len(rdb)/2), "redis-check-rdb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(path, tc.file), tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.WriteFile(filepath.Join(path, info.Name), good, 0o600) })
			o := restoreOpts(t, s, log, sup)
			o.Name, o.AllowEmpty = tc.file, true
			if err := os.WriteFile(filepath.Join(o.DataDir, "dump.rdb"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Restore(testCtx(t, time.Minute), o)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore = %v; want ErrCorrupt naming %s and %q", err, tc.file, tc.want)
			}
			t.Log(err)
			entries, _ := os.ReadDir(o.DataDir)
			if len(entries) != 1 || entries[0].Name() != "dump.rdb" {
				t.Fatalf("data dir after a refused restore: %v", entries)
			}
			if fi, _ := os.Stat(filepath.Join(o.DataDir, "dump.rdb")); fi.Size() != 0 {
				t.Fatal("the empty dump.rdb was left with data")
			}
		})
	}
}

// A restore cancelled midway (SIGTERM while downloading) leaves the data
// directory without data and without staging files; the next restore
// removes what a crash would have left and succeeds.
func TestRestoreCancelledThenRetried(t *testing.T) {
	log, sink := testLog(t)
	r, c := startRedis(t)
	fill(t, r.Client, 20000)
	want := dataset(t, r.Client)
	s, srv, _ := mantaStore(t, log, sink)
	info, err := Backup(testCtx(t, time.Minute), Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv.Inject(mantaserver.Fault{Method: "GET", PathPrefix: "/" + srv.Account + "/stor/redis-backups/" + info.Name,
		Kind: mantaserver.Slow, Rate: 16 << 10})
	o := restoreOpts(t, s, log, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := Restore(ctx, o); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Restore = %v, want the deadline", err)
	}
	if entries, _ := os.ReadDir(o.DataDir); len(entries) != 0 {
		t.Fatalf("data dir after a cancelled restore: %v", entries)
	}
	srv.ClearFaults()
	stale := filepath.Join(o.DataDir, ".restore-123", "appendonlydir")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(testCtx(t, time.Minute), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale staging directory left: %v", err)
	}
	equalData(t, want, startRestored(t, o.DataDir))
}
