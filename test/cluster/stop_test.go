package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestSIGTERMToMasterLosesNoAcknowledgedWrite sends SIGTERM to the master
// node while a writer writes with WAIT 1: the node hands over first, so no
// acknowledged write is lost, and it exits 0 well within Docker's 10 s.
// A replica that joined a moment before, which the master's sentinel (the
// failover's leader) does not know yet, follows the new master by the
// time the old one has exited: the hand-over re-points it (the
// reliability suite's rolling replacement lost such a replica).
func TestSIGTERMToMasterLosesNoAcknowledgedWrite(t *testing.T) {
	c := nodes.New(t)
	c.StartNodes(3)
	top := c.WaitTopology(60*time.Second, "", 2, 3)
	old := c.Node(top.Masters[0])

	w := c.StartWriter(nodes.WriterOptions{})
	defer w.Stop()
	waitAcked := func(n int) {
		t.Helper()
		nodes.WaitFor(t, 10*time.Second, func() error {
			if _, waited := w.Acked(time.Time{}, time.Now()); len(waited) < n {
				return fmt.Errorf("%d WAIT 1 writes acknowledged so far, want %d", len(waited), n)
			}
			return nil
		})
	}
	waitAcked(200)
	// Sentinel learns of replicas from the master's INFO every 10 s: the
	// hand-over needs it to know one.
	old.WaitSentinelKnowsReplicas(15*time.Second, 2)
	late := c.AddNode().Start()
	nodes.WaitFor(t, 30*time.Second, func() error {
		info, err := old.Client.Info(nodes.Ctx(t, time.Second), "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, fmt.Sprintf("ip=%s,port=%d,state=online", late.IP, late.RedisPort)) {
			return fmt.Errorf("%s is not an online replica of the master yet", late.Addr())
		}
		return nil
	})
	code, took := old.Term(20 * time.Second)
	t.Logf("old master %s exited %d after %s", old.Addr(), code, took.Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if took > 8*time.Second {
		t.Errorf("stop took %s; Docker kills after 10 s", took)
	}
	if !strings.Contains(old.Log(), "handed over") {
		t.Errorf("the master did not hand over:\n%s", old.Proc.Tail(30))
	}
	nodes.WaitFor(t, 3*time.Second, func() error {
		info, err := late.Client.Info(nodes.Ctx(t, time.Second), "replication").Result()
		if err != nil {
			return err
		}
		if strings.Contains(info, fmt.Sprintf("master_port:%d\r\n", old.RedisPort)) {
			return fmt.Errorf("%s still follows the old master %s, which has exited", late.Addr(), old.Addr())
		}
		return nil
	})
	newTop := c.WaitTopology(30*time.Second, "!"+old.Addr(), 2, 3)
	master := c.Node(newTop.Masters[0])
	waitFollows(t, late, master, 3*time.Second)
	// Whether the sentinel knew it is what the hand-over saw (the
	// sentinel reads the master's INFO every 10 s, so it may learn of it
	// between any check here and the hand-over).
	unknown, repointed := false, false
	for _, l := range strings.Split(old.Log(), "\n") {
		if !strings.Contains(l, late.Addr()) {
			continue
		}
		unknown = unknown || strings.Contains(l, "the sentinel does not know some replicas yet")
		repointed = repointed || strings.Contains(l, "handed over: re-pointed a replica the sentinel did not know") ||
			strings.Contains(l, "handed over: a replica the sentinel did not know no longer follows this node")
	}
	switch {
	case unknown && !repointed:
		t.Errorf("the old master's sentinel did not know %s, and its log does not say it re-pointed it", late.Addr())
	case !unknown:
		t.Logf("the old master's sentinel knew %s already when the hand-over began: Sentinel re-pointed it", late.Addr())
	}
	// Keep writing to the new master for a moment, then check everything.
	_, waited := w.Acked(time.Time{}, time.Now())
	waitAcked(len(waited) + 100)
	w.Stop()
	_, waited = w.Acked(time.Time{}, time.Now())
	lost, err := nodes.Lost(nodes.Ctx(t, 30*time.Second), master.Client, waited)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes acknowledged with WAIT 1, %d not acknowledged, %d lost", len(waited), w.Errors(), len(lost))
	if len(lost) != 0 {
		t.Fatalf("%d acknowledged writes lost, e.g. %s", len(lost), lost[0].Key)
	}
}

// TestFullDiskReplicaIsCritical fills a replica's disk (its data dir is a
// small tmpfs): redis still answers, but its save fails and its check goes
// critical; freed space brings it back.
func TestFullDiskReplicaIsCritical(t *testing.T) {
	c := nodes.New(t)
	master := c.AddNode().Start()
	c.WaitTopology(30*time.Second, master.Addr(), 0, 1)
	r := c.AddNode()
	data := r.Dir + "/data"
	os.MkdirAll(data, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Skipf("needs root to mount a tmpfs for a full disk: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	r.Start()
	c.WaitTopology(30*time.Second, master.Addr(), 1, 2)

	filler := data + "/filler"
	exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=64k").Run() // ends with ENOSPC: the point
	// No writes now: with the disk full, Redis 7.0.15 crashes on an AOF
	// write (the supervisor restarts it); a failed save is the case where
	// PING answers while the disk is broken.
	// SCHEDULE: Redis 8 and Valkey 8 rewrite the AOF after a replica's
	// full sync, and a plain BGSAVE is refused while that child runs.
	ctx := nodes.Ctx(t, 40*time.Second)
	if err := r.Client.Do(ctx, "BGSAVE", "SCHEDULE").Err(); err != nil {
		t.Fatalf("BGSAVE SCHEDULE: %v", err)
	}
	nodes.WaitFor(t, 15*time.Second, func() error {
		if got := c.Instances("redis-replica", true); len(got) != 0 {
			return fmt.Errorf("replica still passing: %v", got)
		}
		return nil
	})
	// Redis still answers (PING with MISCONF, INFO normally).
	if err := r.Client.Info(ctx, "server").Err(); err != nil {
		t.Fatalf("redis should still answer: %v", err)
	}
	if !strings.Contains(r.Log(), "rdb_last_bgsave_status:err") {
		t.Errorf("no decision names the failed write:\n%s", r.Proc.Tail(20))
	}
	os.Remove(filler)
	nodes.WaitFor(t, 20*time.Second, func() error {
		r.Client.BgSave(ctx)
		if got := c.Instances("redis-replica", true); len(got) != 1 {
			return fmt.Errorf("replica not passing again: %v", got)
		}
		return nil
	})
}
