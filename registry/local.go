package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/consul/api"
)

// LocalServiceIDs returns the IDs of the services registered on the local
// agent. An agent that restarted without its state has lost them, and the
// caller registers again.
func (r *Registry) LocalServiceIDs(ctx context.Context) (map[string]bool, error) {
	svcs, err := r.c.Agent().ServicesWithFilterOpts("", queryOpts(ctx))
	if err != nil {
		return nil, fmt.Errorf("list the local agent's services: %w", err)
	}
	ids := make(map[string]bool, len(svcs))
	for id := range svcs {
		ids[id] = true
	}
	return ids, nil
}

// CatalogView is what the servers' catalog holds for the local agent's
// node.
type CatalogView struct {
	// Node is the agent's node name.
	Node string
	// NodeRegistered is whether the node is in the catalog with its
	// serfHealth check (sessions need it).
	NodeRegistered bool
	// ServiceIDs are the node's services in the catalog that have a check
	// (all of the ones redis-autopilot registers).
	ServiceIDs map[string]bool
	// Marked are the node's services whose TTL check the catalog holds
	// critical with an output MarkCritical wrote (another node marked
	// it).
	Marked map[string]bool
}

// LocalNodeInCatalog reads what the catalog holds for the local agent's
// node. A Consul server that lost its state (restored from nothing) lists
// neither the node nor its services until the agent gossips with it again
// and runs a full anti-entropy sync, which can take minutes; the agent's
// own view (LocalServiceIDs) does not show it.
func (r *Registry) LocalNodeInCatalog(ctx context.Context) (CatalogView, error) {
	name, err := r.c.Agent().NodeName()
	if err != nil {
		return CatalogView{}, fmt.Errorf("ask the agent its node name: %w", err)
	}
	v := CatalogView{Node: name, ServiceIDs: map[string]bool{}, Marked: map[string]bool{}}
	// One read: the node's checks say whether it is registered (serfHealth)
	// and which services it has (every service this node registers has a
	// TTL check).
	checks, _, err := r.c.Health().Node(name, queryOpts(ctx))
	if err != nil {
		return v, fmt.Errorf("look up node %s in the catalog: %w", name, err)
	}
	for _, c := range checks {
		if c.CheckID == "serfHealth" {
			v.NodeRegistered = true
		}
		if c.ServiceID != "" {
			v.ServiceIDs[c.ServiceID] = true
		}
		if c.ServiceID != "" && c.CheckID == CheckID(c.ServiceID) && c.Status == api.HealthCritical &&
			strings.HasPrefix(c.Output, MarkedCriticalPrefix) {
			v.Marked[c.ServiceID] = true
		}
	}
	return v, nil
}

// Join asks the local agent to join the Consul servers at addrs (as
// `consul join`): a server that came back without its state learns of the
// agent at once instead of at the next gossip push-pull.
func (r *Registry) Join(ctx context.Context, addrs []string) error {
	var errs []error
	for _, a := range addrs {
		if err := r.c.Agent().Join(a, false); err != nil {
			errs = append(errs, fmt.Errorf("join %s: %w", a, err))
			continue
		}
		return nil
	}
	return errors.Join(errs...)
}
