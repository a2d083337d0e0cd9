package devcluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// consulNode is the Consul dev agent's node name.
const consulNode = "redis-autopilot-dev"

// consulArgs runs a Consul dev agent (in-memory server with the UI) on
// loopback, on the layout's ports, without gRPC.
func consulArgs(l Layout) []string {
	p := strconv.Itoa
	return []string{"agent", "-dev", "-node", consulNode, "-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-http-port", p(l.ConsulHTTP), "-dns-port", p(l.ConsulDNS), "-server-port", p(l.ConsulSrv),
		"-serf-lan-port", p(l.ConsulLAN), "-serf-wan-port", p(l.ConsulWAN), "-grpc-port", "-1",
		"-disable-host-node-id"}
}

// startConsul starts the agent and waits until it has a leader and its
// own node is in the catalog (registrations made earlier can be refused).
func (c *cluster) startConsul(ctx context.Context) error {
	child, err := c.sup.Add(supervisor.ChildSpec{
		Command: supervisor.Command{Name: "consul", Path: c.o.Consul, Args: consulArgs(c.l), Env: c.o.Env,
			StopSignal: syscall.SIGINT, StopGrace: 10 * time.Second}, // SIGINT: a graceful leave
	})
	if err != nil {
		return fmt.Errorf("start consul: %w", err)
	}
	c.consul = child
	cfg := api.DefaultNonPooledConfig()
	cfg.Address, cfg.Token, cfg.TokenFile = c.l.ConsulAddr(), "", ""
	if c.client, err = registry.NewClient(cfg); err != nil {
		return fmt.Errorf("consul client: %w", err)
	}
	fmt.Fprintf(c.out, "consul: started on %s; waiting for its leader (log: %s)\n", c.l.ConsulAddr(), c.l.ConsulLog)
	wctx, cancel := context.WithTimeout(ctx, leaderTimeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.consulReady(wctx)
		if err == nil {
			return nil
		}
		select {
		case <-child.Done():
			_, cerr := child.Result()
			return fmt.Errorf("consul exited before electing a leader (%s); see %s", describe(cerr), c.l.ConsulLog)
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil // stop requested: not an error
			}
			return fmt.Errorf("consul had no leader after %s: %w; see %s", leaderTimeout, err, c.l.ConsulLog)
		case <-tick.C:
		}
	}
}

func (c *cluster) consulReady(ctx context.Context) error {
	q := (&api.QueryOptions{}).WithContext(ctx)
	leader, err := c.client.Status().LeaderWithQueryOptions(q)
	if err != nil {
		return err
	}
	if leader == "" {
		return errors.New("no leader yet")
	}
	n, _, err := c.client.Catalog().Node(consulNode, q)
	if err != nil {
		return err
	}
	if n == nil {
		return errors.New("own node not in the catalog yet")
	}
	return nil
}
