package registry

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"
)

// MarkedCriticalPrefix begins the output MarkCritical gives a check: the
// node that owns it knows from it that another node marked it.
const MarkedCriticalPrefix = "marked critical by another node: "

// MarkCritical sets the TTL check of another node's service critical in the
// catalog, through the servers. It is for a service whose own agent can no
// longer update it (a node that died with its agent): Consul would list it
// with its last status until serfHealth notices the node has failed. An
// agent that is alive re-syncs its own state over it.
func (r *Registry) MarkCritical(ctx context.Context, in Instance, note string) error {
	reg := &api.CatalogRegistration{
		Node: in.Node, Address: in.NodeAddress, SkipNodeUpdate: true,
		Check: &api.AgentCheck{
			Node: in.Node, CheckID: CheckID(in.ID), Name: in.ID + " TTL",
			ServiceID: in.ID, Status: api.HealthCritical, Output: MarkedCriticalPrefix + note,
		},
	}
	if _, err := r.c.Catalog().Register(reg, writeOpts(ctx)); err != nil {
		return fmt.Errorf("mark %s on node %s critical: %w", in.ID, in.Node, err)
	}
	r.log.Info("marked another node's service critical", "id", in.ID, "node", in.Node, "note", note)
	return nil
}
