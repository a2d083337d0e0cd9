package harness

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// Consul is a real Consul agent a test started.
type Consul struct {
	*Process
	// HTTPAddr is the agent's HTTP API, "127.0.0.1:port".
	HTTPAddr string
	// SerfLANAddr is where other agents join this one.
	SerfLANAddr string
	// Client talks to this agent.
	Client  *api.Client
	DataDir string
	Node    string
}

// APIConfig returns a fresh consul/api config that talks to this agent.
func (c *Consul) APIConfig() *api.Config {
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = c.HTTPAddr
	cfg.Token = ""
	return cfg
}

// StartConsul starts a single-node Consul dev server on free loopback ports
// and waits until it has a leader.
func StartConsul(t testing.TB) *Consul {
	t.Helper()
	return startConsul(t, "", true)
}

// StartClientAgent starts a Consul client agent that joins c, as every
// redis-autopilot node runs one beside it, and waits until it is a member.
func (c *Consul) StartClientAgent(t testing.TB) *Consul {
	t.Helper()
	return startConsul(t, c.SerfLANAddr, false)
}

// StartClientAgentNoWait starts a client agent that joins c and returns at
// once, while it may still be joining: as a node's freshly started agent.
func (c *Consul) StartClientAgentNoWait(t testing.TB) *Consul {
	t.Helper()
	a, _ := launchConsul(t, c.SerfLANAddr, false)
	return a
}

func startConsul(t testing.TB, join string, server bool) *Consul {
	t.Helper()
	c, node := launchConsul(t, join, server)
	waitConsulUp(t, c, node)
	return c
}

// launchConsul starts an agent (a -dev server, or a client joining join)
// without waiting for it.
func launchConsul(t testing.TB, join string, server bool) (*Consul, string) {
	t.Helper()
	bin := NeedBinary(t, "consul")
	dir := TempDir(t, "consul-")
	http, lan, wan, srv := FreePort(t), FreePort(t), FreePort(t), FreePort(t)
	node := fmt.Sprintf("node-%d", http)
	args := []string{"agent", "-node", node, "-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-http-port", strconv.Itoa(http), "-dns-port", "-1", "-grpc-port", "-1",
		"-serf-lan-port", strconv.Itoa(lan), "-serf-wan-port", strconv.Itoa(wan),
		"-server-port", strconv.Itoa(srv), "-log-level", "warn", "-disable-host-node-id"}
	if server {
		args = append(args, "-dev")
	} else {
		args = append(args, "-data-dir", filepath.Join(dir, "data"), "-retry-join", join, "-retry-interval", "1s")
	}
	p := startProcess(t, "consul", filepath.Join(dir, "consul.log"), bin, args...)
	c := &Consul{Process: p, HTTPAddr: fmt.Sprintf("127.0.0.1:%d", http),
		SerfLANAddr: fmt.Sprintf("127.0.0.1:%d", lan), DataDir: dir, Node: node}
	client, err := api.NewClient(c.APIConfig())
	if err != nil {
		t.Fatalf("consul client: %v", err)
	}
	c.Client = client
	return c, node
}

func waitConsulUp(t testing.TB, c *Consul, node string) {
	t.Helper()
	p, client := c.Process, c.Client
	err := Wait(60*time.Second, func() error {
		if p.Exited() {
			return errors.New("consul exited")
		}
		leader, err := client.Status().Leader()
		if err != nil {
			return err
		}
		if leader == "" {
			return errors.New("no leader yet")
		}
		// The agent must also have synced its own node into the catalog,
		// with its serfHealth check, or registrations and sessions made
		// right away can be refused ("Missing check 'serfHealth'
		// registration", seen on a loaded machine).
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		checks, _, err := client.Health().Node(node, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return err
		}
		for _, c := range checks {
			if c.CheckID == "serfHealth" {
				return nil
			}
		}
		return errors.New("node not in the catalog with its serfHealth check yet")
	})
	if err != nil {
		t.Fatalf("consul agent %s did not come up: %v\n%s", node, err, p.Tail(30))
	}
}
