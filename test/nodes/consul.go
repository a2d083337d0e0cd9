package nodes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// consulServer is how to start the restartable Consul server again.
type consulServer struct {
	bin  string
	dir  string
	args []string
}

// startConsulServer starts a one-server Consul with its state in a data
// directory, on ports it keeps across RestartConsul.
func startConsulServer(t testing.TB) (*harness.Consul, *consulServer) {
	t.Helper()
	dir := harness.TempDir(t, "consul-server-")
	http, lan, wan, srv := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	node := fmt.Sprintf("server-%d", http)
	s := &consulServer{bin: harness.NeedBinary(t, "consul"), dir: dir, args: []string{
		"agent", "-server", "-bootstrap-expect", "1", "-node", node, "-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-data-dir", filepath.Join(dir, "data"), "-hcl", "performance { raft_multiplier = 1 }",
		"-http-port", strconv.Itoa(http), "-dns-port", "-1", "-grpc-port", "-1",
		"-serf-lan-port", strconv.Itoa(lan), "-serf-wan-port", strconv.Itoa(wan),
		"-server-port", strconv.Itoa(srv), "-log-level", "warn", "-disable-host-node-id"}}
	c := &harness.Consul{HTTPAddr: fmt.Sprintf("127.0.0.1:%d", http), SerfLANAddr: fmt.Sprintf("127.0.0.1:%d", lan),
		DataDir: dir, Node: node}
	client, err := api.NewClient(c.APIConfig())
	if err != nil {
		t.Fatalf("consul client: %v", err)
	}
	c.Client = client
	if err := s.start(t, c); err != nil {
		t.Fatal(err)
	}
	return c, s
}

func (s *consulServer) start(t testing.TB, c *harness.Consul) error {
	c.Process = harness.StartProcess(t, harness.ProcessOptions{Name: "consul",
		LogPath: filepath.Join(s.dir, "consul.log"), Path: s.bin, Args: s.args})
	err := harness.Wait(60*time.Second, func() error {
		if c.Process.Exited() {
			return errors.New("consul exited")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		q := (&api.QueryOptions{}).WithContext(ctx)
		n, _, err := c.Client.Catalog().Node(c.Node, q)
		if err != nil {
			return err
		}
		if n == nil {
			return errors.New("node not in catalog yet")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("consul server did not come up: %w\n%s", err, c.Process.Tail(30))
	}
	return nil
}

// KillConsul SIGKILLs the Consul server (Options.RestartableConsul).
func (c *Cluster) KillConsul() {
	c.Consul.Process.Kill()
}

// RestartConsul starts the Consul server again on its ports after
// KillConsul, with its state, or without any (wipe: KV, catalog and
// sessions gone, as a rebuilt server), and waits until it has a leader.
func (c *Cluster) RestartConsul(wipe bool) error {
	s := c.server
	if s == nil {
		return errors.New("restart consul: the cluster was not made with Options.RestartableConsul")
	}
	if !c.Consul.Process.Exited() {
		c.Consul.Process.Kill()
	}
	if wipe {
		if err := os.RemoveAll(filepath.Join(s.dir, "data")); err != nil {
			return fmt.Errorf("wipe consul data: %w", err)
		}
	}
	return s.start(c.t, c.Consul)
}

// SignalConsul sends sig (SIGSTOP, SIGCONT) to the Consul server.
func (c *Cluster) SignalConsul(sig syscall.Signal) error {
	return c.Consul.Process.Signal(sig)
}

// agentEnv runs the node's own Consul agent (Options.ConsulAgents): it
// joins the server, listens on ports of its own and advertises the node's
// address; the node talks to it.
func (n *Node) agentEnv() []string {
	http := harness.FreePort(n.c.t)
	local := fmt.Sprintf(`{"node_name":%q,"disable_host_node_id":true,"client_addr":"127.0.0.1","log_level":"warn",`+
		`"leave_on_terminate":true,"ports":{"http":%d,"dns":-1,"grpc":-1,"serf_lan":%d,"serf_wan":-1}}`,
		fmt.Sprintf("%s-%d", n.Name, os.Getpid()), http, harness.FreePort(n.c.t))
	return []string{
		"CONSUL=" + n.c.Consul.SerfLANAddr, "CONSUL_LOCAL_CONFIG=" + local,
		"CONSUL_DATA_DIR=" + filepath.Join(n.Dir, "consul", "data"),
		"CONSUL_CONFIG_DIR=" + filepath.Join(n.Dir, "consul", "config"),
		"CONSUL_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(http),
	}
}
