package cluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/autopilotpattern/redis-autopilot/test/clustertest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// writer writes numbered keys to whatever Consul names as the master, and
// records each write acknowledged with WAIT 1 (on at least one replica).
type writer struct {
	c       *clustertest.Cluster
	mu      sync.Mutex
	acked   []int
	errs    int
	clients map[string]*redis.Client
}

func (w *writer) run(ctx context.Context) {
	w.clients = map[string]*redis.Client{}
	defer func() {
		for _, c := range w.clients {
			c.Close()
		}
	}()
	for i := 0; ctx.Err() == nil; i++ {
		entries, _, err := w.c.Consul.Client.Health().Service("redis", "", true, nil)
		if err != nil || len(entries) != 1 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		addr := fmt.Sprintf("%s:%d", entries[0].Service.Address, entries[0].Service.Port)
		cl := w.clients[addr]
		if cl == nil {
			cl = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
				ReadTimeout: 2 * time.Second, WriteTimeout: time.Second})
			w.clients[addr] = cl
		}
		if w.write(ctx, cl, i) {
			w.mu.Lock()
			w.acked = append(w.acked, i)
			w.mu.Unlock()
		} else {
			w.mu.Lock()
			w.errs++
			w.mu.Unlock()
		}
	}
}

func (w *writer) write(ctx context.Context, cl *redis.Client, i int) bool {
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	key := fmt.Sprintf("w:%d", i)
	if err := cl.Set(wctx, key, i, 0).Err(); err != nil {
		return false
	}
	n, err := cl.Wait(wctx, 1, 1000).Result()
	return err == nil && n >= 1
}

// TestSIGTERMToMasterLosesNoAcknowledgedWrite sends SIGTERM to the master
// node while a writer writes with WAIT 1: the node hands over first, so no
// acknowledged write is lost, and it exits 0 well within Docker's 10 s.
func TestSIGTERMToMasterLosesNoAcknowledgedWrite(t *testing.T) {
	c := clustertest.New(t)
	c.StartNodes(3)
	top := c.WaitTopology(60*time.Second, "", 2, 3)
	old := c.Node(top.Masters[0])

	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{c: c}
	done := make(chan struct{})
	go func() { w.run(ctx); close(done) }()
	clustertest.WaitFor(t, 10*time.Second, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.acked) < 200 {
			return fmt.Errorf("%d writes acknowledged so far", len(w.acked))
		}
		return nil
	})
	// Sentinel learns of replicas from the master's INFO every 10 s: the
	// hand-over needs it to know one.
	s := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", old.SentinelPort)})
	defer s.Close()
	clustertest.WaitFor(t, 15*time.Second, func() error {
		rs, err := s.Replicas(clustertest.Ctx(t, time.Second), "mymaster").Result()
		if err != nil || len(rs) < 2 {
			return fmt.Errorf("the master's sentinel knows %d replicas (%v)", len(rs), err)
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
	newTop := c.WaitTopology(30*time.Second, "!"+old.Addr(), 1, 2)
	// Keep writing to the new master for a moment, then check everything.
	w.mu.Lock()
	before := len(w.acked)
	w.mu.Unlock()
	clustertest.WaitFor(t, 10*time.Second, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.acked) < before+100 {
			return errors.New("no writes acknowledged by the new master yet")
		}
		return nil
	})
	cancel()
	<-done
	master := c.Node(newTop.Masters[0])
	lost := 0
	for _, i := range w.acked {
		v, err := master.Client.Get(clustertest.Ctx(t, time.Second), fmt.Sprintf("w:%d", i)).Result()
		if err != nil || v != fmt.Sprint(i) {
			lost++
		}
	}
	t.Logf("%d writes acknowledged with WAIT 1, %d not acknowledged, %d lost", len(w.acked), w.errs, lost)
	if lost != 0 {
		t.Fatalf("%d acknowledged writes lost", lost)
	}
}

// TestFullDiskReplicaIsCritical fills a replica's disk (its data dir is a
// small tmpfs): redis still answers, but its save fails and its check goes
// critical; freed space brings it back.
func TestFullDiskReplicaIsCritical(t *testing.T) {
	c := clustertest.New(t)
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
	ctx := clustertest.Ctx(t, 40*time.Second)
	if err := r.Client.BgSave(ctx).Err(); err != nil {
		t.Fatalf("BGSAVE: %v", err)
	}
	clustertest.WaitFor(t, 15*time.Second, func() error {
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
	clustertest.WaitFor(t, 20*time.Second, func() error {
		r.Client.BgSave(ctx)
		if got := c.Instances("redis-replica", true); len(got) != 1 {
			return fmt.Errorf("replica not passing again: %v", got)
		}
		return nil
	})
}
