package sentinel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

const password = "s3cret"

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, addr string) *Client {
	t.Helper()
	c := Dial(addr, password)
	t.Cleanup(func() { c.Close() })
	return c
}

// pair starts a master and one replica of it, both with password.
func pair(t *testing.T) (master, replica *harness.Redis) {
	t.Helper()
	master = harness.StartRedis(t, harness.RedisOptions{Password: password, Extra: []string{"repl-diskless-sync-delay 0"}})
	replica = harness.StartRedis(t, harness.RedisOptions{Password: password, ReplicaOf: master.Addr})
	return master, replica
}

func startSentinel(t *testing.T, master string, port int) *harness.Sentinel {
	t.Helper()
	return harness.StartSentinel(t, harness.SentinelOptions{MasterAddr: master, Password: password, Port: port,
		DownAfter: time.Second, FailoverTimeout: 10 * time.Second})
}

// waitReplicaKnown waits until the sentinel sees replica as a healthy replica.
func waitReplicaKnown(t *testing.T, c *Client, replica string) {
	t.Helper()
	harness.Eventually(t, 15*time.Second, func() error {
		reps, err := c.Replicas(context.Background(), "mymaster")
		if err != nil {
			return err
		}
		for _, r := range reps {
			if r.Addr() == replica && r.HasFlag("slave") && len(r.Flags) == 1 && r.Fields["master-link-status"] == "ok" {
				return nil
			}
		}
		return fmt.Errorf("replica %s not in sync yet: %+v", replica, reps)
	})
}

func TestParseConfOfRealRewrite(t *testing.T) {
	m, r := pair(t)
	s1, s2 := startSentinel(t, m.Addr, 0), startSentinel(t, m.Addr, 0)
	var st ConfState
	harness.Eventually(t, 15*time.Second, func() error {
		var err error
		if st, err = ReadConf(s1.Conf); err != nil {
			return err
		}
		if st.MyID == "" || len(st.KnownReplicas) != 1 || len(st.KnownSentinels) != 1 {
			return fmt.Errorf("not learned yet: %+v", st)
		}
		return nil
	})
	other, err := ReadConf(s2.Conf)
	if err != nil {
		t.Fatal(err)
	}
	if st.Master() != m.Addr || st.MasterName != "mymaster" || st.Quorum != 1 || st.KnownReplicas[0] != r.Addr ||
		st.KnownSentinels[0].Addr != s2.Addr || st.KnownSentinels[0].ID != other.MyID || other.MyID == "" {
		t.Fatalf("parsed %+v; want master %s, replica %s, sentinel %s id %s", st, m.Addr, r.Addr, s2.Addr, other.MyID)
	}
	if !KeepExisting(st, "mymaster", m.Addr) || KeepExisting(st, "mymaster", r.Addr) {
		t.Fatal("KeepExisting wrong for the real file")
	}

	// UpdateConf on the stopped sentinel keeps what it learned; restarted, it uses both.
	s1.Stop()
	tun := Tunables{Quorum: 2, DownAfter: 2500 * time.Millisecond, FailoverTimeout: 30 * time.Second, Password: password}
	if err := UpdateConf(s1.Conf, "mymaster", tun); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(s1.Conf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("updated conf mode %v, %v", fi.Mode(), err)
	}
	runConf(t, s1.Conf)
	c := dial(t, s1.Addr)
	harness.Eventually(t, 10*time.Second, func() error {
		mi, err := c.Master(context.Background(), "mymaster")
		if err != nil {
			return err
		}
		if mi.Int("quorum") != 2 || mi.Int("down-after-milliseconds") != 2500 || mi.NumOtherSentinels() != 1 || mi.NumReplicas() != 1 {
			return fmt.Errorf("restarted sentinel: %v", mi.Fields)
		}
		return nil
	})
	if after, err := ReadConf(s1.Conf); err != nil || after.MyID != st.MyID {
		t.Fatalf("myid changed across UpdateConf: %q -> %q (%v)", st.MyID, after.MyID, err)
	}
}

// runConf runs redis-sentinel on an existing config file until the test ends.
func runConf(t *testing.T, conf string) {
	t.Helper()
	cmd := exec.Command(harness.NeedBinary(t, "redis-sentinel"), conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

func TestClientAgainstRealSentinel(t *testing.T) {
	m, r := pair(t)
	s := startSentinel(t, m.Addr, 0)
	ctx := ctxT(t, 20*time.Second)
	if err := Dial(s.Addr, "").Ping(ctx); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without password = %v, want NOAUTH", err)
	}
	c := dial(t, s.Addr)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetMasterAddr(ctx, "mymaster"); err != nil || got != m.Addr {
		t.Fatalf("GetMasterAddr = %q, %v", got, err)
	}
	if _, err := c.GetMasterAddr(ctx, "nosuch"); !errors.Is(err, ErrNoMaster) {
		t.Fatalf("GetMasterAddr(nosuch) = %v, want ErrNoMaster", err)
	}
	if _, err := c.Master(ctx, "nosuch"); !errors.Is(err, ErrNoMaster) {
		t.Fatalf("Master(nosuch) = %v, want ErrNoMaster", err)
	}
	mi, err := c.Master(ctx, "mymaster")
	if err != nil || mi.Addr() != m.Addr || !mi.HasFlag("master") || mi.Down() {
		t.Fatalf("Master = %+v, %v", mi, err)
	}
	waitReplicaKnown(t, c, r.Addr)
	if err := c.Apply(ctx, "mymaster", Tunables{Quorum: 1, DownAfter: 3 * time.Second, FailoverTimeout: 20 * time.Second,
		ParallelSyncs: 2, Password: password, AnnounceIP: "127.0.0.1", AnnouncePort: s.Port}); err != nil {
		t.Fatal(err)
	}
	if mi, err = c.Master(ctx, "mymaster"); err != nil || mi.Int("down-after-milliseconds") != 3000 || mi.Int("parallel-syncs") != 2 {
		t.Fatalf("after Apply: %v, %v", mi.Fields, err)
	}
	if n, err := c.Reset(ctx, "mymaster"); err != nil || n != 1 {
		t.Fatalf("Reset = %d, %v", n, err)
	}
	if sents, err := c.Sentinels(ctx, "mymaster"); err != nil || len(sents) != 0 {
		t.Fatalf("Sentinels = %v, %v", sents, err)
	}
}
