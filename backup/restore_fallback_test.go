package backup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// flipMiddle corrupts a stored backup's data the way a bad disk would:
// bytes in the middle change, the size and the sidecar do not.
func flipMiddle(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 2; i < len(b)/2+16 && i < len(b); i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// An automatic restore whose backup (the one last-backup names) is corrupt
// restores the newest older backup that passes every check, logs an ERROR
// naming the corrupt one, keeps it in the store and moves last-backup off
// it. Every backup corrupt is an error naming each; an explicitly named
// corrupt backup never falls back.
func TestRestoreFallsBackFromCorruptBackup(t *testing.T) {
	consul := harness.StartConsul(t)
	log, sink := testLog(t)
	reg := newRegistry(t, consul, log)
	r, c := startRedis(t)
	path := t.TempDir()
	s := dirStoreAt(t, path)
	sup := startSup(t, log)
	ctx := testCtx(t, 2*time.Minute)

	t0 := time.Now().UTC().Truncate(time.Second)
	backupAt := func(at time.Time) string {
		t.Helper()
		info, err := Backup(ctx, Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd", Log: log,
			Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		if err := writeLast(ctx, reg, info, "n1"); err != nil {
			t.Fatal(err)
		}
		return info.Name
	}
	fill(t, r.Client, 1000)
	older := dataset(t, r.Client)
	olderName := backupAt(t0.Add(-time.Hour))
	fill(t, r.Client, 2000) // more keys: the newer backup differs
	newerName := backupAt(t0)
	flipMiddle(t, filepath.Join(path, newerName))

	restore := func(name string) (RestoreOptions, string, error) {
		o := restoreOpts(t, s, log, sup)
		o.KV, o.Name = reg, name
		got, err := Restore(ctx, o)
		return o, got, err
	}
	noData := func(o RestoreOptions) {
		t.Helper()
		if has, err := redisnode.HasData(o.DataDir); has || err != nil {
			t.Fatalf("the data directory holds data after a failed restore (%v)", err)
		}
	}

	t.Run("falls back", func(t *testing.T) {
		o, got, err := restore("")
		if err != nil || got != olderName {
			t.Fatalf("Restore = %q, %v; want the older %s", got, err, olderName)
		}
		equalData(t, older, startRestored(t, o.DataDir))
		if !strings.Contains(sink.String(), "[ERROR]") || !strings.Contains(sink.String(), newerName) {
			t.Error("no ERROR naming the corrupt backup was logged")
		}
		if n := names(t, s); len(n) != 2 {
			t.Errorf("store lists %v; the corrupt backup must stay", n)
		}
		last, found, err := ReadLast(ctx, reg)
		if err != nil || !found || last.Name != olderName {
			t.Fatalf("last-backup = %+v (found %v, %v); want it moved to %s", last, found, err, olderName)
		}
		raw, _, _ := reg.Get(ctx, KeyLastBackupMeta)
		if !strings.Contains(raw, `"name":"`+olderName+`"`) {
			t.Errorf("last-backup-meta = %s; want it to describe %s", raw, olderName)
		}
	})

	// The move is a check-and-set: a last-backup that no longer names the
	// corrupt backup, or changed since it was read, is left alone.
	t.Run("pointer moved only if unchanged", func(t *testing.T) {
		const other = "dump-20300101000000.rdb.zst"
		if err := reg.Put(ctx, registry.KeyLastBackup, other); err != nil {
			t.Fatal(err)
		}
		info, err := s.Stat(ctx, olderName)
		if err != nil {
			t.Fatal(err)
		}
		if moved, err := moveLast(ctx, reg, newerName, info); moved || err != nil {
			t.Fatalf("moveLast over another backup = %v, %v", moved, err)
		}
		if err := reg.Put(ctx, registry.KeyLastBackup, newerName); err != nil {
			t.Fatal(err)
		}
		_, index, _, err := reg.GetIndexed(ctx, registry.KeyLastBackup)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{other, newerName} { // moved away and back meanwhile
			if err := reg.Put(ctx, registry.KeyLastBackup, v); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := reg.PutIfUnchanged(ctx, registry.KeyLastBackup, index,
			map[string]string{registry.KeyLastBackup: olderName}); ok || err != nil {
			t.Fatalf("PutIfUnchanged with a stale index = %v, %v", ok, err)
		}
		if got, _, _ := reg.Get(ctx, registry.KeyLastBackup); got != newerName {
			t.Fatalf("last-backup = %s after a refused check-and-set", got)
		}
	})

	t.Run("explicit name does not fall back", func(t *testing.T) {
		o, got, err := restore(newerName)
		if !errors.Is(err, ErrCorrupt) || got != "" || !strings.Contains(err.Error(), newerName) ||
			strings.Contains(err.Error(), olderName) {
			t.Fatalf("Restore(%s) = %q, %v; want ErrCorrupt naming only it", newerName, got, err)
		}
		noData(o)
	})

	t.Run("all corrupt", func(t *testing.T) {
		flipMiddle(t, filepath.Join(path, olderName))
		if err := reg.Put(ctx, registry.KeyLastBackup, newerName); err != nil {
			t.Fatal(err)
		}
		o, got, err := restore("")
		if !errors.Is(err, ErrCorrupt) || got != "" {
			t.Fatalf("Restore with every backup corrupt = %q, %v; want ErrCorrupt", got, err)
		}
		t.Log(err)
		for _, want := range []string{newerName, olderName, "redis-autopilot backup restore <name>", "RESTORE_ALLOW_EMPTY"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not name %q", want)
			}
		}
		noData(o)
		if got, _, _ := reg.Get(ctx, registry.KeyLastBackup); got != newerName {
			t.Errorf("last-backup = %s after a failed restore; want it left alone", got)
		}
	})
}
