//go:build reliability

package reliability

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// pitrLossGoal: a restore of `latest` after every node died at once lacks
// only writes acknowledged in the last 2 s before.
const pitrLossGoal = 2 * time.Second

// pitrTrial is what one "pitr-kill-all" trial lost.
type pitrTrial struct {
	acked, lost int
	// oldest is how long before the kill the oldest lost write was
	// acknowledged.
	oldest time.Duration
}

// TestPITRKillEveryNode is the scenario "pitr-kill-all": three nodes with
// PITR=true and a directory store take writes through the sentinels, every
// node is SIGKILLed at the same moment (redis, sentinel and the node
// process: nothing can flush), and `backup restore --to latest` fills a
// new node of a new cluster. It reports the acknowledged writes the
// restore lacks and fails when one was acknowledged more than 2 s before
// the kill. One trial in short mode (about a minute), three in long mode.
func TestPITRKillEveryNode(t *testing.T) {
	st := loadSettings(t)
	if st.only != nil && !st.only.MatchString("pitr-kill-all") {
		t.Skipf("pitr-kill-all is not selected by %s", st.only)
	}
	trials := 1
	if st.long {
		trials = 3
	}
	if st.trials > 0 {
		trials = st.trials
	}
	var all pitrTrial
	for i := 1; i <= trials; i++ {
		tr := pitrKillAll(t, rand.New(rand.NewSource(st.seed+int64(i))))
		t.Logf("pitr-kill-all trial %d: %d of %d acknowledged writes lost; the oldest acknowledged %s before the kill",
			i, tr.lost, tr.acked, tr.oldest.Round(time.Millisecond))
		all.acked, all.lost, all.oldest = all.acked+tr.acked, all.lost+tr.lost, max(all.oldest, tr.oldest)
	}
	t.Logf("FIGURE pitr-kill-all: %d trials, %d of %d acknowledged writes lost, oldest lost acknowledged %s before the kill (goal: at most %s)",
		trials, all.lost, all.acked, all.oldest.Round(time.Millisecond), pitrLossGoal)
	if all.oldest > pitrLossGoal {
		t.Errorf("goal missed: a write acknowledged %s before every node was killed is not in the restore of latest", all.oldest.Round(time.Millisecond))
	}
}

func pitrKillAll(t *testing.T, rng *rand.Rand) pitrTrial {
	store := harness.TempDir(t, "pitr-store-")
	env := []string{"BACKUP_DIR=" + store, "PITR=true"}
	c := nodes.New(t, env...)
	first := c.AddNode().Start()
	c.WaitTopology(30*time.Second, first.Addr(), 0, 1)
	c.AddNode().Start()
	c.AddNode().Start()
	c.WaitTopology(60*time.Second, first.Addr(), 2, 3)
	waitReplicaShips(t, c, first.Addr())

	w := nodes.StartSeqWriter(c.Sentinels())
	defer w.Close()
	defer w.Stop()
	w.AcksAfter(t, time.Now(), 20*time.Second)
	hold := between(rng, 3*time.Second, 6*time.Second)
	harness.Eventually(t, hold+5*time.Second, func() error {
		if ws := w.Writes(); len(ws) == 0 || time.Since(ws[0].Sent) < hold {
			return fmt.Errorf("writing for %s", hold)
		}
		return nil
	})
	killed := killAllAtOnce(c.Nodes())
	ws := w.Stop()

	c2 := nodes.New(t, env...)
	n := c2.AddNode()
	if out, errOut, code := n.RunCommand(2*time.Minute, "backup", "restore", "--to", "latest"); code != 0 {
		t.Fatalf("backup restore --to latest exited %d:\n%s\n%s", code, out, errOut)
	}
	n.Start()
	c2.WaitTopology(60*time.Second, n.Addr(), 0, 1)
	present, err := nodes.PresentWrites(nodes.Ctx(t, time.Minute), n.Client, ws)
	if err != nil {
		t.Fatal(err)
	}
	var tr pitrTrial
	for _, w := range ws {
		if !w.OK {
			continue
		}
		tr.acked++
		if !present[w.N] {
			tr.lost++
			tr.oldest = max(tr.oldest, killed.Sub(w.Acked))
		}
	}
	return tr
}

// waitReplicaShips waits until a replica (not master) ships a chain.
func waitReplicaShips(t *testing.T, c *nodes.Cluster, master string) {
	t.Helper()
	nodes.WaitFor(t, 60*time.Second, func() error {
		kv, _, err := c.Consul.Client.KV().Get(pitr.KeyProgress, nil)
		if err != nil || kv == nil {
			return fmt.Errorf("no shipping progress in Consul (%v)", err)
		}
		var st pitr.Status
		if err := json.Unmarshal(kv.Value, &st); err != nil {
			return err
		}
		if st.Node == master || st.Chain == "" {
			return fmt.Errorf("progress %+v: waiting for a replica to ship", st)
		}
		return nil
	})
}

// killAllAtOnce SIGKILLs every node at the same moment and returns it.
func killAllAtOnce(ns []*nodes.Node) time.Time {
	var wg sync.WaitGroup
	at := time.Now()
	for _, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.KillAll()
		}()
	}
	wg.Wait()
	return at
}
