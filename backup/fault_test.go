package backup

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
)

const oldBackup = "dump-20200101000000.rdb.gz" // last-backup before the test

// An upload that fails or is reset midway is retried at the next run; in
// between, last-backup is unchanged and the store lists nothing new.
func TestSchedulerRetriesFailedUpload(t *testing.T) {
	consul := harness.StartConsul(t)
	log, sink := testLog(t)
	r, c := startRedis(t)
	fill(t, r.Client, 3000)
	reg := newRegistry(t, consul, log)
	faults := []mantaserver.Fault{
		{Method: "PUT", Kind: mantaserver.Status, Status: 503},
		{Method: "PUT", Kind: mantaserver.Reset, After: 4096},
	}
	for _, f := range faults {
		t.Run(fmtFault(f), func(t *testing.T) {
			s, srv, _ := mantaStore(t, log, sink)
			ctx := testCtx(t, time.Minute)
			if err := reg.Put(ctx, registry.KeyLastBackup, oldBackup); err != nil {
				t.Fatal(err)
			}
			f.PathPrefix, f.Count = "/"+srv.Account+"/stor/redis-backups/dump-", 1
			srv.Inject(f)
			sch, err := NewScheduler(SchedulerOptions{
				Backup:   Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd"},
				Registry: reg, Node: fixedRole(redisnode.RoleMaster, true), Holder: "n1",
				Interval: time.Second, TTL: time.Hour, Log: log,
			})
			if err != nil {
				t.Fatal(err)
			}
			if d, err := sch.Tick(ctx); err == nil {
				t.Fatalf("Tick with a failing upload = %+v, want an error", d)
			} else {
				t.Log(err)
			}
			if got, _, _ := reg.Get(ctx, registry.KeyLastBackup); got != oldBackup {
				t.Fatalf("last-backup changed to %q after a failed upload", got)
			}
			if n := names(t, s); len(n) != 0 {
				t.Fatalf("store lists %v after a failed upload", n)
			}
			d, err := sch.Tick(ctx) // the next run retries
			if err != nil || d.Backup == "" {
				t.Fatalf("retry: Tick = %+v, %v", d, err)
			}
			if got, _, _ := reg.Get(ctx, registry.KeyLastBackup); got != d.Backup {
				t.Fatalf("last-backup %q, want %s", got, d.Backup)
			}
		})
	}
}

func fmtFault(f mantaserver.Fault) string {
	if f.Kind == mantaserver.Status {
		return "status"
	}
	return "reset"
}

// Cancelling (SIGTERM) during an upload stops it promptly; nothing is
// marked good.
func TestBackupCancelledDuringUpload(t *testing.T) {
	log, sink := testLog(t)
	r, c := startRedis(t)
	fill(t, r.Client, 20000)
	s, srv, _ := mantaStore(t, log, sink)
	srv.Inject(mantaserver.Fault{Method: "PUT", PathPrefix: "/" + srv.Account + "/stor/redis-backups/dump-",
		Kind: mantaserver.Slow, Rate: 16 << 10})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		harness.Wait(30*time.Second, func() error {
			for _, q := range srv.Requests() {
				if q.Method == "PUT" && strings.Contains(q.Path, "/dump-") {
					return nil
				}
			}
			return errors.New("no upload yet")
		})
		cancel()
	}()
	start := time.Now()
	_, err := Backup(ctx, Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd", Log: log})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Backup = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("cancelled backup took %v", took)
	}
	srv.ClearFaults()
	if n := names(t, s); len(n) != 0 {
		t.Fatalf("store lists %v after a cancelled upload", n)
	}
}

// A key Manta does not know is a clear auth error, for backups and for
// restores (even with RESTORE_ALLOW_EMPTY: "can't look" is not "none").
func TestWrongMantaKey(t *testing.T) {
	log, sink := testLog(t)
	srv := mantaserver.New(t, mantaserver.Options{})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	noKeyInLog(t, key, sink)
	fp, err := mantaserver.MD5Fingerprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(&config.Config{MantaURL: srv.URL, MantaUser: srv.Account, MantaKeyID: fp, MantaKey: key,
		MantaBucket: "/" + srv.Account + "/stor/redis-backups"}, log)
	if err != nil {
		t.Fatal(err)
	}
	r, c := startRedis(t)
	fill(t, r.Client, 10)
	_, err = Backup(testCtx(t, time.Minute), Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd", Log: log})
	if !errors.Is(err, store.ErrAuth) {
		t.Fatalf("Backup = %v, want store.ErrAuth", err)
	}
	t.Log(err)
	o := restoreOpts(t, s, log, nil)
	o.AllowEmpty = true
	if _, err := Restore(testCtx(t, time.Minute), o); !errors.Is(err, store.ErrAuth) {
		t.Fatalf("Restore = %v, want store.ErrAuth", err)
	}
}
