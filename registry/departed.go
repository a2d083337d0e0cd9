package registry

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/hashicorp/consul/api"
)

// SerfCheckID is the node check Consul keeps for every agent: critical
// once the agent stops answering gossip.
const SerfCheckID = "serfHealth"

// Addr is the instance's "address:port".
func (in Instance) Addr() string { return net.JoinHostPort(in.Address, strconv.Itoa(in.Port)) }

// RemoveFromCatalog deregisters another node's service through the
// catalog. It is for a node whose agent is gone: its registrations stay,
// critical, until Consul reaps the node (72 h by default). An agent that is
// alive would register its service again at its next sync.
func (r *Registry) RemoveFromCatalog(ctx context.Context, in Instance) error {
	dereg := &api.CatalogDeregistration{Node: in.Node, Address: in.NodeAddress, ServiceID: in.ID}
	if _, err := r.c.Catalog().Deregister(dereg, writeOpts(ctx)); err != nil {
		return fmt.Errorf("remove %s of node %s from the catalog: %w", in.ID, in.Node, err)
	}
	r.log.Info("removed another node's service from the catalog", "id", in.ID, "node", in.Node)
	return nil
}
