//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// Deadlines of the waits. Cluster start includes the Consul agents joining
// and the bootstrap election; a failover is Sentinel's (down-after 2s) plus
// one reconcile tick.
const (
	clusterUpTimeout = 3 * time.Minute
	failoverTimeout  = 90 * time.Second
	stopTimeout      = 90 * time.Second
)

// cluster is a Consul server and redis containers on one podman network.
type cluster struct {
	t      *testing.T
	p      podman
	prefix string // container and network name prefix, unique per run
	net    string
	consul *api.Client
	nodes  []string // redis container names; also their hostnames/Consul node names
}

func newCluster(t *testing.T, p podman) *cluster {
	t.Helper()
	prefix := fmt.Sprintf("ra-e2e-%d-", os.Getpid())
	c := &cluster{t: t, p: p, prefix: prefix, net: prefix + "net"}
	p.must("network", "create", "--label", testLabel, c.net)
	t.Cleanup(c.remove)
	t.Cleanup(c.dumpLogsIfFailed)
	return c
}

// remove deletes every container and the network of this cluster.
func (c *cluster) remove() {
	names := append([]string{c.prefix + "consul"}, c.nodes...)
	if _, err := c.p.run(append([]string{"rm", "-f", "-t", "5"}, names...)...); err != nil {
		c.t.Logf("cleanup: %v", err)
	}
	if _, err := c.p.run("network", "rm", "-f", c.net); err != nil {
		c.t.Logf("cleanup: %v", err)
	}
}

func (c *cluster) dumpLogsIfFailed() {
	if !c.t.Failed() {
		return
	}
	for _, n := range append([]string{c.prefix + "consul"}, c.nodes...) {
		out, _ := exec.Command("podman", "logs", "--tail", "40", n).CombinedOutput()
		c.t.Logf("---- last log lines of %s ----\n%s", n, out)
	}
}

// startConsul runs the Consul server from our own image (its consul binary),
// as examples/compose does, with its HTTP API published on 127.0.0.1.
func (c *cluster) startConsul() {
	c.t.Helper()
	port := harness.FreePort(c.t)
	args := append([]string{"run", "-d"}, ulimits...)
	args = append(args, "--name", c.prefix+"consul", "--hostname", "consul",
		"--network", c.net, "--network-alias", "consul", "--label", testLabel,
		"--no-healthcheck", "-p", fmt.Sprintf("127.0.0.1:%d:8500", port),
		"--entrypoint", "/usr/local/bin/consul", testImage,
		"agent", "-server", "-bootstrap-expect", "1", "-client", "0.0.0.0", "-data-dir", "/tmp/consul")
	c.p.must(args...)
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = fmt.Sprintf("127.0.0.1:%d", port)
	client, err := api.NewClient(cfg)
	if err != nil {
		c.t.Fatalf("consul client: %v", err)
	}
	c.consul = client
	harness.Eventually(c.t, time.Minute, func() error {
		leader, err := client.Status().Leader()
		if err != nil || leader == "" {
			return fmt.Errorf("consul server has no leader yet (leader %q, err %v)", leader, err)
		}
		return nil
	})
}

// startRedis runs redis node i the way a user does: only CONSUL set, plus a
// short Sentinel down-after so the test's failover is quick.
func (c *cluster) startRedis(i int) string {
	c.t.Helper()
	name := fmt.Sprintf("%sredis-%d", c.prefix, i)
	args := append([]string{"run", "-d"}, ulimits...)
	args = append(args, "--name", name, "--hostname", name, "--network", c.net,
		"--label", testLabel, "--health-interval", "disable",
		"-e", "CONSUL=consul", "-e", "SENTINEL_DOWN_AFTER=2s", testImage)
	c.p.must(args...)
	c.nodes = append(c.nodes, name)
	return name
}

// topology is what Consul's passing services say.
type topology struct {
	masters    []string // node (container) names with a passing redis
	master     string   // the one master, when there is exactly one
	masterAddr string   // ip:port of its redis service
	replicas   []string
	sentinels  []string
}

func (top topology) String() string {
	return fmt.Sprintf("redis %v, redis-replica %v, redis-sentinel %v", top.masters, top.replicas, top.sentinels)
}

// check returns an error unless there is exactly one master and the wanted
// numbers of replicas and sentinels.
func (top topology) check(replicas, sentinels int) error {
	if len(top.masters) != 1 || len(top.replicas) != replicas || len(top.sentinels) != sentinels {
		return fmt.Errorf("passing: %s; want 1 master, %d replicas, %d sentinels", top, replicas, sentinels)
	}
	return nil
}

// read asks Consul for the passing redis, redis-replica and redis-sentinel.
func (c *cluster) read() (topology, error) {
	var top topology
	for svc, dst := range map[string]*[]string{"redis": &top.masters, "redis-replica": &top.replicas, "redis-sentinel": &top.sentinels} {
		entries, _, err := c.consul.Health().Service(svc, "", true, nil)
		if err != nil {
			return top, fmt.Errorf("passing %s: %w", svc, err)
		}
		for _, e := range entries {
			*dst = append(*dst, e.Node.Node)
			if svc == "redis" {
				addr := e.Service.Address
				if addr == "" {
					addr = e.Node.Address
				}
				top.master, top.masterAddr = e.Node.Node, net.JoinHostPort(addr, strconv.Itoa(e.Service.Port))
			}
		}
	}
	return top, nil
}

// waitTopology waits until accept(topology) is nil and returns that topology.
func (c *cluster) waitTopology(timeout time.Duration, accept func(topology) error) topology {
	c.t.Helper()
	var top topology
	start, last := time.Now(), ""
	harness.Eventually(c.t, timeout, func() error {
		var err error
		if top, err = c.read(); err != nil {
			return err
		}
		// Log each state Consul passes through, to see where time goes.
		if seen := top.String(); seen != last {
			c.t.Logf("consul +%s: %s", time.Since(start).Round(100*time.Millisecond), seen)
			last = seen
		}
		return accept(top)
	})
	c.t.Logf("consul: master %v (%s), replicas %v, sentinels %v", top.masters, top.masterAddr, top.replicas, top.sentinels)
	return top
}

// settled accepts a topology of one master, the given numbers of replicas
// and sentinels, and every running Sentinel naming Consul's master.
func (c *cluster) settled(replicas, sentinels int) func(topology) error {
	return func(top topology) error {
		if err := top.check(replicas, sentinels); err != nil {
			return err
		}
		return c.sentinelsAgree(top)
	}
}

// sentinelsAgree checks that every node's Sentinel names the master Consul
// names.
func (c *cluster) sentinelsAgree(top topology) error {
	for _, n := range c.runningNodes() {
		out, err := c.p.redisCLI(n, "-p", "26379", "SENTINEL", "get-master-addr-by-name", "mymaster")
		if err != nil {
			return err
		}
		if got := strings.Join(strings.Fields(out), ":"); got != top.masterAddr {
			return fmt.Errorf("sentinel on %s says master %s, consul says %s", n, got, top.masterAddr)
		}
	}
	return nil
}

func (c *cluster) runningNodes() []string {
	var out []string
	for _, n := range c.nodes {
		if state, err := c.p.run("inspect", "--format", "{{.State.Running}}", n); err == nil && state == "true" {
			out = append(out, n)
		}
	}
	return out
}

// role returns the first line of ROLE on a node: master or slave.
func (c *cluster) role(node string) (string, error) {
	out, err := c.p.redisCLI(node, "ROLE")
	if err != nil {
		return "", err
	}
	return strings.SplitN(out, "\n", 2)[0], nil
}
