package cluster

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestBackupRoundTripThroughTheBinary writes keys, takes a backup with
// `backup now`, then loses everything but the backup directory — the
// node's data and the whole Consul state — and starts a new node: it
// restores the backup as the first master and the keys are equal.
func TestBackupRoundTripThroughTheBinary(t *testing.T) {
	backups := harness.TempDir(t, "backups-")
	backupRoundTrip(t, []string{"BACKUP_DIR=" + backups})
	files, _ := filepath.Glob(filepath.Join(backups, "dump-*"))
	if len(files) == 0 {
		t.Fatalf("no backup in %s", backups)
	}
}

// backupRoundTrip runs the round trip with a store env selects and
// returns the old and the new node.
func backupRoundTrip(t *testing.T, env []string) (a, b *nodes.Node) {
	t.Helper()
	c := nodes.New(t, env...)
	a = c.AddNode().Start()
	c.WaitTopology(30*time.Second, a.Addr(), 0, 1)
	ctx := nodes.Ctx(t, 60*time.Second)
	want := map[string]string{}
	for i := 0; i < 500; i++ {
		k, v := fmt.Sprintf("key:%d", i), strings.Repeat(fmt.Sprint(i), 1+i%50)
		want[k] = v
		if err := a.Client.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Client.HSet(ctx, "hash", "f1", "v1", "f2", "v2").Err(); err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, a, "backup", "now")
	if code != 0 {
		t.Fatalf("backup now exited %d:\n%s", code, out)
	}
	last, _, err := c.Consul.Client.KV().Get("service/redis/last-backup", nil)
	if err != nil || last == nil {
		t.Fatalf("last-backup not written: %v\n%s", err, out)
	}
	t.Logf("backup %s", last.Value)

	// Lose the cluster: the node, its data, and Consul.
	a.KillAll()
	c2 := nodes.New(t, env...)
	b = c2.AddNode().Start()
	c2.WaitTopology(60*time.Second, b.Addr(), 0, 1)
	if !strings.Contains(b.Log(), string(last.Value)) {
		t.Errorf("the new node's log does not name the backup it restored:\n%s", b.Proc.Tail(30))
	}
	for k, v := range want {
		got, err := b.Client.Get(ctx, k).Result()
		if err != nil || got != v {
			t.Fatalf("%s = %q (%v) after restore, want %q", k, got, err, v)
		}
	}
	if h, _ := b.Client.HGetAll(ctx, "hash").Result(); h["f1"] != "v1" || h["f2"] != "v2" {
		t.Fatalf("hash after restore: %v", h)
	}
	if n, _ := b.Client.DBSize(ctx).Result(); n != int64(len(want)+1) {
		t.Fatalf("%d keys after restore, want %d", n, len(want)+1)
	}
	return a, b
}

// TestSIGUSR2TakesABackupAndMetricsFollow: SIGUSR2 makes the node take a
// backup now; last-backup is written and /metrics shows the attempt.
func TestSIGUSR2TakesABackupAndMetricsFollow(t *testing.T) {
	backups := harness.TempDir(t, "backups-")
	c := nodes.New(t, "BACKUP_DIR="+backups)
	a := c.AddNode().Start()
	c.WaitTopology(30*time.Second, a.Addr(), 0, 1)
	if err := a.Client.Set(nodes.Ctx(t, 5*time.Second), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	before := float64(time.Now().Unix())
	if err := a.Proc.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	nodes.WaitFor(t, 30*time.Second, func() error {
		kv, _, err := c.Consul.Client.KV().Get("service/redis/last-backup", nil)
		if err != nil || kv == nil {
			return fmt.Errorf("no last-backup yet (%v)", err)
		}
		return nil
	})
	nodes.WaitFor(t, 10*time.Second, func() error {
		s, err := metrics.Scrape(nodes.Ctx(t, 5*time.Second), nodeURL{a}.get("/metrics"))
		if err != nil {
			return err
		}
		for _, m := range []struct {
			name  string
			label []string
			ok    func(float64) bool
		}{
			{"redis_autopilot_backup_attempts_total", []string{"outcome", "success"}, func(v float64) bool { return v == 1 }},
			{"redis_autopilot_backup_last_success_timestamp_seconds", nil, func(v float64) bool { return v >= before }},
			{"redis_autopilot_backup_cluster_last_success_timestamp_seconds", nil, func(v float64) bool { return v >= before }},
			{"redis_autopilot_backup_size_bytes", nil, func(v float64) bool { return v > 0 }},
		} {
			v, ok := s.Get(m.name, m.label...)
			if !ok || !m.ok(v) {
				return fmt.Errorf("%s%v = %v (present %v)", m.name, m.label, v, ok)
			}
		}
		return nil
	})
}
