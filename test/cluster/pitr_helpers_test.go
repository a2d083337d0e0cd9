package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
	"github.com/redis/go-redis/v9"
)

// untilSecond waits until the wall clock is in the second ts or later.
func untilSecond(t *testing.T, ts int64) {
	t.Helper()
	nodes.WaitFor(t, time.Duration(ts-time.Now().Unix()+2)*time.Second, func() error {
		if now := time.Now().Unix(); now < ts {
			return fmt.Errorf("second %d, waiting for %d", now, ts)
		}
		return nil
	})
}

// pitrStore reads the chains of the directory store at root.
type pitrStore struct {
	root string
	cs   *pitr.ChainStore
}

func openPITRStore(t *testing.T, root string) pitrStore {
	t.Helper()
	st, err := dir.New(dir.Options{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := pitr.NewChainStore(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pitrStore{root: root, cs: cs}
}

func (s pitrStore) chains(t *testing.T) []pitr.Chain {
	t.Helper()
	chains, err := s.cs.Chains(nodes.Ctx(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return chains
}

// uncovered lists the seconds from the last one chain killed reached to
// until that no window of chains holds.
func uncovered(chains []pitr.Chain, killed string, until int64) []int64 {
	from := int64(-1)
	for _, c := range chains {
		if c.Info.ID == killed {
			from = c.Window().To
		}
	}
	var out []int64
	for ts := from + 1; from >= 0 && ts <= until; ts++ {
		held := false
		for _, c := range chains {
			w := c.Window()
			held = held || (ts >= w.From && ts <= w.To)
		}
		if !held {
			out = append(out, ts)
		}
	}
	return out
}

// waitReach waits until a chain's window holds the second ts.
func (s pitrStore) waitReach(t *testing.T, ts int64, d time.Duration) {
	t.Helper()
	nodes.WaitFor(t, d, func() error {
		var ws []pitr.Window
		for _, c := range s.chains(t) {
			w := c.Window()
			if w.From <= ts && w.To >= ts {
				return nil
			}
			ws = append(ws, w)
		}
		return fmt.Errorf("no chain reaches %d yet: %v", ts, ws)
	})
}

// waitCovered waits until a chain holds a second at or after from and
// returns the first such second.
func (s pitrStore) waitCovered(t *testing.T, from int64, d time.Duration) int64 {
	t.Helper()
	var got int64
	nodes.WaitFor(t, d, func() error {
		var ws []pitr.Window
		for _, c := range s.chains(t) {
			w := c.Window()
			if lo := max(from, w.From); w.To >= lo {
				got = lo
				return nil
			}
			ws = append(ws, w)
		}
		return fmt.Errorf("no chain holds a second from %d on yet: %v", from, ws)
	})
	return got
}

// progress reads the shipping node's progress from Consul.
func progress(c *nodes.Cluster) (pitr.Status, error) {
	kv, _, err := c.Consul.Client.KV().Get(pitr.KeyProgress, nil)
	if err != nil || kv == nil {
		return pitr.Status{}, fmt.Errorf("no progress in Consul (%v)", err)
	}
	var st pitr.Status
	err = json.Unmarshal(kv.Value, &st)
	return st, err
}

// restoreTo runs `backup restore --to` into a fresh data directory, as on
// a new node without Consul, and starts redis-server on the result.
func restoreTo(t *testing.T, store, to string) *harness.Redis {
	t.Helper()
	data := harness.TempDir(t, "pitr-restore-")
	cmd := exec.Command(nodes.Binary(t), "backup", "restore", "--to", to)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "BACKUP_DIR=" + store, "REDIS_DATA_DIR=" + data,
		"REDIS_CONFIG_DIR=" + filepath.Join(data, "etc"), "REDIS_PORT=" + strconv.Itoa(harness.FreePort(t)),
		"CONSUL_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(harness.FreePort(t)), "REDIS_FLAVOR=" + os.Getenv("REDIS_FLAVOR")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("backup restore --to %s: %v\n%s", to, err, out.String())
	}
	return harness.StartRedis(t, harness.RedisOptions{Dir: data, Extra: []string{"appendonly yes"}})
}

// restoreFails runs `backup restore --to` and returns its output; it must
// fail and leave the data directory empty.
func restoreFails(t *testing.T, store, to string) string {
	t.Helper()
	data := harness.TempDir(t, "pitr-restore-")
	cmd := exec.Command(nodes.Binary(t), "backup", "restore", "--to", to)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "BACKUP_DIR=" + store, "REDIS_DATA_DIR=" + data,
		"REDIS_PORT=" + strconv.Itoa(harness.FreePort(t)), "CONSUL_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(harness.FreePort(t))}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("backup restore --to %s: %v, want a failure\n%s", to, err, out)
	}
	if _, err := os.Stat(filepath.Join(data, pitr.AOFDir)); err == nil {
		t.Fatalf("a failed restore left %s behind", pitr.AOFDir)
	}
	return string(out)
}

func rfc3339(ts int64) string { return time.Unix(ts, 0).UTC().Format(time.RFC3339) }

// checkRestored checks a restore to the second ts: every write
// acknowledged before ts's second is there (but those the cluster itself
// lost in a failover, in lost), none sent after ts+1 s is; it returns how
// many writes are present.
func checkRestored(t *testing.T, got *harness.Redis, ws []nodes.SeqWrite, ts int64, lost map[int]bool, shipper *applyClock) int {
	t.Helper()
	present := readWrites(t, got.Client, ws)
	from, to := time.Unix(ts, 0), time.Unix(ts+1, 0)
	n := 0
	for _, w := range ws {
		switch {
		case present[w.N]:
			n++
			if w.Sent.After(to) {
				t.Fatalf("restored to %s: n:%d sent at %s is present", rfc3339(ts), w.N, w.Sent.Format(time.StampMilli))
			}
		case w.OK && !lost[w.N] && appliedBefore(w, from, shipper):
			t.Fatalf("restored to %s: n:%d acknowledged at %s is missing", rfc3339(ts), w.N, w.Acked.Format(time.StampMilli))
		}
	}
	return n
}

// appliedBefore: w was acknowledged before from and, when shipper
// measures the shipping node, applied there before from too.
func appliedBefore(w nodes.SeqWrite, from time.Time, shipper *applyClock) bool {
	if !w.Acked.Before(from) {
		return false
	}
	if shipper == nil {
		return true
	}
	at, ok := shipper.appliedBy(w.Acked)
	return ok && at.Before(from)
}

// readWrites returns which writes the client holds (with their value).
func readWrites(t *testing.T, cl *redis.Client, ws []nodes.SeqWrite) map[int]bool {
	t.Helper()
	present, err := nodes.PresentWrites(nodes.Ctx(t, time.Minute), cl, ws)
	if err != nil {
		t.Fatal(err)
	}
	return present
}

// whole returns how many of keys exist: all or none, else it fails.
func whole(t *testing.T, cl *redis.Client, keys ...string) int64 {
	t.Helper()
	n, err := cl.Exists(nodes.Ctx(t, 5*time.Second), keys...).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 && n != int64(len(keys)) {
		t.Fatalf("%d of %v present: a transaction came back in part", n, keys)
	}
	return n
}
