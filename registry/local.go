package registry

import (
	"context"
	"fmt"
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
