package backup

import (
	"errors"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestRestoreNewCluster: with an empty store and no last-backup in a real
// Consul the node starts empty (a new cluster); when Consul names a backup
// the store does not have, it refuses unless RESTORE_ALLOW_EMPTY is set.
func TestRestoreNewCluster(t *testing.T) {
	log, _ := testLog(t)
	sup := startSup(t, log)
	c := harness.StartConsul(t)
	reg, err := registry.New(registry.Options{API: c.APIConfig()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, time.Minute)

	o := restoreOpts(t, dirStore(t), log, sup)
	o.KV = reg
	if name, err := Restore(ctx, o); err != nil || name != "" {
		t.Fatalf("new cluster: Restore = %q, %v; want an empty start", name, err)
	}

	if err := reg.Put(ctx, registry.KeyLastBackup, "dump-20260101000000.rdb.gz"); err != nil {
		t.Fatal(err)
	}
	for _, allow := range []bool{false, true} {
		o := restoreOpts(t, dirStore(t), log, sup)
		o.KV, o.AllowEmpty = reg, allow
		name, err := Restore(ctx, o)
		switch {
		case !allow && (!errors.Is(err, ErrNoBackup) || errors.Is(err, ErrNewCluster)):
			t.Errorf("last-backup names a missing backup: Restore = %q, %v; want ErrNoBackup", name, err)
		case allow && (err != nil || name != ""):
			t.Errorf("with AllowEmpty: Restore = %q, %v; want an empty start", name, err)
		}
	}
}
