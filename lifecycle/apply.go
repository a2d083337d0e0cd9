package lifecycle

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/autopilotpattern/redis-autopilot/registry"
)

// apply makes the registration what d says, in the order Changes gives,
// and stops at the first error: the choices are Decide's, and apply
// makes none of its own (obs is read for the logs only).
func (n *Node) apply(ctx context.Context, obs Observation, d Decision) error {
	if err := n.repairCatalog(ctx, obs.Catalog.Node, d.Changes); err != nil {
		return err
	}
	for _, in := range d.MarkDown {
		if err := n.o.Reg.MarkCritical(ctx, in, d.MarkDownNote); err != nil {
			return fmt.Errorf("mark the master the local sentinel flags o_down critical: %w", err)
		}
		n.log.Warn("marked the master the local sentinel flags o_down critical in Consul", "master", instance(in).addr())
	}
	for _, in := range d.MarkCritical {
		note := fmt.Sprintf("%s found it does not answer as master and a majority of sentinels name %s", n.self, n.self)
		if err := n.o.Reg.MarkCritical(ctx, in, note); err != nil {
			return fmt.Errorf("mark the dead master %s critical before passing: %w", net.JoinHostPort(in.Address, strconv.Itoa(in.Port)), err)
		}
	}
	if d.Register {
		if err := n.o.Reg.Register(ctx, n.service(d.Service, n.o.RedisPort)); err != nil {
			return err
		}
		if d.Deregister != "" {
			if err := n.o.Reg.Deregister(ctx, registry.ServiceID(d.Deregister, n.o.AdvertiseAddr, n.o.RedisPort)); err != nil {
				return err
			}
		}
		n.log.Info("registry changed", "from", nonEmpty(obs.Registered), "to", d.Service, "reason", d.Reason)
	}
	id := registry.ServiceID(d.Service, n.o.AdvertiseAddr, n.o.RedisPort)
	if d.Resync {
		// The agent has the check passing already and would not sync it
		// again until its next full sync: a change of status it does.
		if err := n.o.Reg.Fail(ctx, id, d.Note); err != nil {
			return err
		}
		n.log.Warn("another node marked this node's check critical in Consul; passing it again", "id", id)
	}
	if err := n.check(ctx, id, d.Pass, d.Note); err != nil {
		return err
	}
	n.recordLastMaster(ctx, d)
	if d.RegisterSentinel {
		if err := n.o.Reg.Register(ctx, n.service(registry.ServiceSentinel, n.o.SentinelPort)); err != nil {
			return err
		}
	}
	note := "sentinel answers PING"
	if !d.SentinelPass {
		note = "sentinel does not answer PING"
	}
	return n.check(ctx, registry.ServiceID(registry.ServiceSentinel, n.o.AdvertiseAddr, n.o.SentinelPort), d.SentinelPass, note)
}

// recordLastMaster carries out RecordLastMaster, and forgets when it last
// did once this node no longer passes as master.
func (n *Node) recordLastMaster(ctx context.Context, d Decision) {
	if !d.PassesAsMaster() {
		n.recordedMaster = time.Time{}
		return
	}
	if !d.RecordLastMaster {
		return
	}
	if err := n.o.Reg.Put(ctx, registry.KeyLastMaster, n.self); err != nil {
		n.log.Warn("record this node as the last master", "key", registry.KeyLastMaster, "error", err)
		return
	}
	n.recordedMaster = time.Now()
}

// repairCatalog carries out Rejoin and Reregister, and remembers
// CatalogLost for the next tick; it logs once per episode.
func (n *Node) repairCatalog(ctx context.Context, node string, c Changes) error {
	n.catalogLost = c.CatalogLost
	if !c.CatalogLost {
		n.catalogWarned = false
	}
	if !c.Rejoin && len(c.Reregister) == 0 {
		return nil
	}
	if !n.catalogWarned {
		n.catalogWarned = true
		n.log.Warn("the Consul servers do not list this node or its services (a server that lost its state?); joining and registering again",
			"node", node, "node_listed", !c.Rejoin, "services", c.Reregister)
	}
	if c.Rejoin && len(n.o.ConsulJoin) > 0 {
		if err := n.o.Reg.Join(ctx, n.o.ConsulJoin); err != nil {
			n.log.Warn("join the Consul servers again", "error", err)
		}
	}
	for _, name := range c.Reregister {
		port := n.o.RedisPort
		if name == registry.ServiceSentinel {
			port = n.o.SentinelPort
		}
		svc := n.service(name, port)
		if err := n.o.Reg.Deregister(ctx, svc.ID); err != nil {
			return err
		}
		if err := n.o.Reg.Register(ctx, svc); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) check(ctx context.Context, id string, pass bool, note string) error {
	if pass {
		return n.o.Reg.Pass(ctx, id, note)
	}
	return n.o.Reg.Fail(ctx, id, note)
}
