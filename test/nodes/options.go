package nodes

import (
	"slices"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// Options say how NewWithOptions builds a cluster; the zero value is New's.
type Options struct {
	// Env is added to every node's environment.
	Env []string
	// NodeIPs gives node i (counting from 1) its own loopback address
	// 127.0.0.(i+1), bound and advertised, so faults can target one node.
	// Linux routes all of 127/8 to lo, so no alias is needed.
	NodeIPs bool
	// BindAll makes nodes with NodeIPs listen on 0.0.0.0 (BIND_ADDR) while
	// still advertising their own address.
	BindAll bool
	// IPv6 binds and advertises every node on ::1 (distinct ports), so
	// every address the nodes exchange is written [::1]:port.
	IPv6 bool
	// Cgroups starts each node in its own cgroup v2 group, so that its
	// processes can be frozen together and its packets matched by nft
	// (see Partition). Needs root and a cgroup2 mount.
	Cgroups bool
	// ConsulAgents gives each node its own Consul client agent, run by
	// the node itself as in production (CONSUL=<the server>), on its own
	// ports: the node registers with its agent, and a node that dies takes
	// its agent with it.
	ConsulAgents bool
	// RestartableConsul runs a Consul server with a data directory on fixed
	// ports instead of a dev server, so RestartConsul can bring it back.
	RestartableConsul bool
}

// NewWithOptions starts a Consul server for a cluster built as o says.
func NewWithOptions(t testing.TB, o Options) *Cluster {
	t.Helper()
	harness.NeedBinary(t, "redis-server")
	harness.NeedBinary(t, "redis-sentinel")
	c := &Cluster{t: t, Env: o.Env, Opts: o}
	if o.Cgroups {
		if err := CgroupsAvailable(); err != nil {
			t.Fatalf("Options.Cgroups: %v", err)
		}
	}
	if o.RestartableConsul {
		c.Consul, c.server = startConsulServer(t)
	} else {
		c.Consul = harness.StartConsul(t)
	}
	return c
}

// Retire takes n out of the cluster for good (a replaced container): it
// is no longer in Nodes, and the checker stops probing it. Its address is
// never given to another node.
func (c *Cluster) Retire(n *Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes = slices.DeleteFunc(c.nodes, func(x *Node) bool { return x == n })
}

// Nodes returns the nodes added so far and not retired.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node{}, c.nodes...)
}
