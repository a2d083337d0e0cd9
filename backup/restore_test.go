package backup

import (
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/hashicorp/go-hclog"
)

// mapKV is a fixed last-backup for tests that need no Consul.
type mapKV map[string]string

func (m mapKV) Get(_ context.Context, key string) (string, bool, error) {
	v, ok := m[key]
	return v, ok, nil
}

func restoreOpts(t *testing.T, s store.Store, log hclog.Logger, sup *supervisor.Supervisor) RestoreOptions {
	t.Helper()
	if sup == nil {
		sup = startSup(t, log)
	}
	return RestoreOptions{Store: s, DataDir: harness.TempDir(t, "rdir"), Sup: sup,
		RedisServerPath: harness.NeedBinary(t, "redis-server"), CheckRDBPath: harness.NeedBinary(t, "redis-check-rdb"),
		Password: testPassword, Log: log, SocketDir: harness.TempDir(t, "sock")}
}

// startRestored starts redis on a restored data dir, AOF on as the node runs.
func startRestored(t *testing.T, dir string) map[string]string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, aofManifest)); err != nil {
		t.Fatalf("no AOF after restore: %v", err)
	}
	r := harness.StartRedis(t, harness.RedisOptions{Dir: dir, Password: testPassword, Extra: []string{"appendonly yes"}})
	return dataset(t, r.Client)
}

func TestRoundTrip(t *testing.T) {
	stores := map[string]func(t *testing.T, log hclog.Logger, sink *logSink) store.Store{
		"dir": func(t *testing.T, _ hclog.Logger, _ *logSink) store.Store { return dirStore(t) },
		"manta": func(t *testing.T, log hclog.Logger, sink *logSink) store.Store {
			s, _, _ := mantaStore(t, log, sink)
			return s
		},
	}
	for sname, open := range stores {
		for _, comp := range []string{"zstd", "gzip"} {
			t.Run(sname+"/"+comp, func(t *testing.T) {
				log, sink := testLog(t)
				s := open(t, log, sink)
				r, c := startRedis(t)
				fill(t, r.Client, 2000)
				want := dataset(t, r.Client)
				info, err := Backup(testCtx(t, time.Minute), Options{Redis: c, DataDir: r.Dir, Store: s, Compression: comp, Log: log})
				if err != nil {
					t.Fatal(err)
				}
				r.Stop()
				o := restoreOpts(t, s, log, nil)
				o.KV = mapKV{"service/redis/last-backup": info.Name}
				got, err := Restore(testCtx(t, time.Minute), o)
				if err != nil || got != info.Name {
					t.Fatalf("Restore = %q, %v; want %s", got, err, info.Name)
				}
				equalData(t, want, startRestored(t, o.DataDir))
			})
		}
	}
}

// A backup as the shell version made it: gzip -c dump.rdb, no sidecar,
// last-backup holding the plain name.
func TestRestoreShellVersionBackup(t *testing.T) {
	log, _ := testLog(t)
	r, _ := startRedis(t)
	fill(t, r.Client, 1000)
	want := dataset(t, r.Client)
	if err := r.Client.Save(testCtx(t, time.Minute)).Err(); err != nil {
		t.Fatal(err)
	}
	rdb, err := os.ReadFile(filepath.Join(r.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir()
	s := dirStoreAt(t, path)
	name := "dump-20200102030405.rdb.gz"
	putLegacy(t, path, name, gzipped(t, rdb))
	sup := startSup(t, log)
	for _, kv := range []mapKV{{"service/redis/last-backup": name}, nil} {
		o := restoreOpts(t, s, log, sup)
		if kv != nil {
			o.KV = kv
		}
		got, err := Restore(testCtx(t, time.Minute), o)
		if err != nil || got != name {
			t.Fatalf("Restore (kv %v) = %q, %v", kv, got, err)
		}
		equalData(t, want, startRestored(t, o.DataDir))
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf strings.Builder
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(buf.String())
}

// putLegacy writes data into a dir store's directory with no sidecar, as
// the shell version's backups are.
func putLegacy(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreRefusesExistingData(t *testing.T) {
	log, _ := testLog(t)
	o := restoreOpts(t, dirStore(t), log, nil)
	aof := filepath.Join(o.DataDir, "appendonlydir")
	if err := os.MkdirAll(aof, 0o700); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(aof, "appendonly.aof.1.base.rdb")
	if err := os.WriteFile(base, []byte("REDIS0010precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Restore(testCtx(t, time.Minute), o)
	if !errors.Is(err, ErrDataExists) {
		t.Fatalf("Restore = %v, want ErrDataExists", err)
	}
	if b, _ := os.ReadFile(base); string(b) != "REDIS0010precious" {
		t.Fatal("existing AOF was touched")
	}
}

func TestRestoreNoBackup(t *testing.T) {
	log, _ := testLog(t)
	sup := startSup(t, log)
	for _, allow := range []bool{false, true} {
		o := restoreOpts(t, dirStore(t), log, sup)
		o.AllowEmpty = allow
		name, err := Restore(testCtx(t, time.Minute), o)
		switch {
		case allow && (err != nil || name != ""):
			t.Errorf("AllowEmpty: Restore = %q, %v; want an empty start", name, err)
		case !allow && !errors.Is(err, ErrNoBackup):
			t.Errorf("Restore = %q, %v; want ErrNoBackup", name, err)
		}
		if has, _ := redisnode.HasData(o.DataDir); has {
			t.Error("data appeared")
		}
	}
}
