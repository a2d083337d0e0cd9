//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestUserPath is the user's path in containers: build the image, start a
// Consul server and three redis nodes, see one master and two replicas in
// Consul, force a failover and see Consul follow it, restart the master
// (it must come back as a replica), scale down by one and up by one.
func TestUserPath(t *testing.T) {
	needRootAndTools(t)
	p := podman{t: t}
	tm := newTimings(t)

	tm.step("base-image", func() { ensureBaseImage(t, p) })
	tm.step("image-build", func() { buildImage(t, p, harness.RepoRoot(t)); checkImage(t, p) })

	c := newCluster(t, p)
	var top topology
	tm.step("cluster-up", func() {
		c.startConsul()
		for i := 1; i <= 3; i++ {
			c.startRedis(i)
		}
		top = c.waitTopology(clusterUpTimeout, c.settled(2, 3))
	})
	checkHealthcheck(t, p, c.nodes)
	writeAndReplicate(t, p, top.master)

	tm.step("failover", func() { top = failover(t, c, top) })
	if got, err := p.redisCLI(top.master, "GET", "e2e:key"); err != nil || got != "written-before-failover" {
		t.Errorf("GET e2e:key on the new master %s: %q, %v; want the value written before the failover", top.master, got, err)
	}

	tm.step("master-restart", func() { top = restartMaster(t, c, top) })
	tm.step("scale-down", func() { scaleDown(t, c, top) })
	tm.step("scale-up", func() {
		n := c.startRedis(len(c.nodes) + 1)
		c.waitTopology(clusterUpTimeout, func(top topology) error {
			if err := c.settled(2, 3)(top); err != nil {
				return err
			}
			if !slices.Contains(top.replicas, n) {
				return fmt.Errorf("new node %s is not a passing replica (replicas %v)", n, top.replicas)
			}
			return nil
		})
	})
}

// needRootAndTools fails (never skips) when the test cannot run here.
func needRootAndTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("E2E CANNOT RUN: needs root (podman with runc, debootstrap); run `sudo make e2e`")
	}
	for _, b := range []string{"podman", "runc", "debootstrap", "tar"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("E2E CANNOT RUN: %s is not on PATH; run `make e2e` (it installs podman runc debootstrap) or `apt-get install -y podman runc debootstrap`", b)
		}
	}
}

// checkHealthcheck runs the image's HEALTHCHECK on every node.
func checkHealthcheck(t *testing.T, p podman, nodes []string) {
	t.Helper()
	for _, n := range nodes {
		if out, err := p.run("healthcheck", "run", n); err != nil {
			t.Errorf("HEALTHCHECK (redis-autopilot health) on %s: %v %s", n, err, out)
		}
	}
}

// writeAndReplicate writes a key on the master and waits until both
// replicas acknowledged it.
func writeAndReplicate(t *testing.T, p podman, master string) {
	t.Helper()
	if out, err := p.redisCLI(master, "SET", "e2e:key", "written-before-failover"); err != nil || out != "OK" {
		t.Fatalf("SET on master %s: %q, %v", master, out, err)
	}
	harness.Eventually(t, 30*time.Second, func() error {
		out, err := p.redisCLI(master, "WAIT", "2", "1000")
		if err != nil {
			return err
		}
		if out != "2" {
			return fmt.Errorf("WAIT 2 on %s: %s replicas acknowledged", master, out)
		}
		return nil
	})
}

// failover asks a Sentinel to fail over and waits until Consul's passing
// redis is another node, with the old master a passing replica.
func failover(t *testing.T, c *cluster, before topology) topology {
	t.Helper()
	start := time.Now()
	// Sentinel answers NOGOODSLAVE until it has fresh INFO from a replica
	// whose link is up (INFO every 10s): ask again until it accepts.
	tries := 0
	harness.Eventually(t, 30*time.Second, func() error {
		tries++
		out, err := c.p.redisCLI(before.master, "-p", "26379", "SENTINEL", "FAILOVER", "mymaster")
		if err == nil && out != "OK" {
			err = fmt.Errorf("SENTINEL FAILOVER on %s: %s", before.master, out)
		}
		return err
	})
	t.Logf("SENTINEL FAILOVER accepted after %d tries, %s", tries, time.Since(start).Round(100*time.Millisecond))
	start = time.Now() // the figures below count from the accepted failover
	moved := c.waitTopology(failoverTimeout, func(top topology) error {
		if len(top.masters) != 1 || top.master == before.master {
			return fmt.Errorf("consul names %v master, want one other than %s", top.masters, before.master)
		}
		return nil
	})
	t.Logf("consul's redis moved %s after the failover was accepted: %s -> %s", time.Since(start).Round(100*time.Millisecond), before.master, moved.master)
	after := c.waitTopology(failoverTimeout, func(top topology) error {
		if err := c.settled(2, 3)(top); err != nil {
			return err
		}
		if top.master != moved.master {
			return fmt.Errorf("master moved again: %s, then %s", moved.master, top.master)
		}
		if !slices.Contains(top.replicas, before.master) {
			return fmt.Errorf("old master %s is not a passing replica yet (replicas %v)", before.master, top.replicas)
		}
		return nil
	})
	t.Logf("failover followed by Consul in %s after it was accepted (old master a passing replica again)", time.Since(start).Round(100*time.Millisecond))
	for n, want := range map[string]string{after.master: "master", before.master: "slave"} {
		if got, err := c.role(n); err != nil || got != want {
			t.Errorf("ROLE on %s: %q, %v; want %s", n, got, err, want)
		}
	}
	return after
}

// restartMaster stops the master gracefully (it hands over first), waits
// for another master in Consul, then starts the old master again: it must
// come back as a replica of the new master, never as a second master.
func restartMaster(t *testing.T, c *cluster, before topology) topology {
	t.Helper()
	start := time.Now()
	c.p.must("stop", "-t", "75", before.master)
	t.Logf("stopped master %s in %s", before.master, time.Since(start).Round(100*time.Millisecond))
	if code := c.p.must("inspect", "--format", "{{.State.ExitCode}}", before.master); code != "0" {
		t.Errorf("%s exited with %s after SIGTERM, want 0", before.master, code)
	}
	moved := c.waitTopology(failoverTimeout, func(top topology) error {
		if top.master == before.master {
			return fmt.Errorf("consul still names the stopped %s master", top.master)
		}
		return c.settled(1, 2)(top)
	})
	t.Logf("new master %s in Consul %s after the stop began", moved.master, time.Since(start).Round(100*time.Millisecond))
	c.p.must("start", before.master)
	return c.waitTopology(clusterUpTimeout, func(top topology) error {
		if err := c.settled(2, 3)(top); err != nil {
			return err
		}
		if top.master != moved.master || !slices.Contains(top.replicas, before.master) {
			return fmt.Errorf("want master %s and the restarted %s a replica; consul: master %s, replicas %v",
				moved.master, before.master, top.master, top.replicas)
		}
		return nil
	})
}

// scaleDown stops one replica the way `docker compose up --scale redis=2`
// does (SIGTERM, grace period) and checks it left cleanly: exit code 0 and
// its services gone from Consul, not left critical.
func scaleDown(t *testing.T, c *cluster, top topology) {
	t.Helper()
	victim := top.replicas[0]
	start := time.Now()
	c.p.must("stop", "-t", "75", victim)
	t.Logf("stopped %s in %s", victim, time.Since(start).Round(100*time.Millisecond))
	if code := c.p.must("inspect", "--format", "{{.State.ExitCode}}", victim); code != "0" {
		t.Errorf("%s exited with %s after SIGTERM, want 0", victim, code)
	}
	c.waitTopology(stopTimeout, c.settled(1, 2))
	harness.Eventually(t, stopTimeout, func() error {
		for _, svc := range []string{"redis", "redis-replica", "redis-sentinel"} {
			entries, _, err := c.consul.Health().Service(svc, "", false, nil)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if e.Node.Node == victim {
					return fmt.Errorf("%s still has %s registered (checks %s)", victim, svc, e.Checks.AggregatedStatus())
				}
			}
		}
		return nil
	})
}
