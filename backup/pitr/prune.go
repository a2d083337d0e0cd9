package pitr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
)

// StaleAfter is how long a chain without chain.json (its base upload can
// take at most startTimeout) or without end.json and not the one being
// shipped must have had no object written before a prune may delete it.
const StaleAfter = startTimeout

// PruneOptions say which chains a prune may delete.
type PruneOptions struct {
	// Horizon is the time of the oldest backup kept (BACKUP_KEEP): a chain
	// whose window ended before it is deleted, so point-in-time recovery
	// reaches back as far as the backups do.
	Horizon time.Time
	// Active is the chain being shipped (Consul's KeyProgress); it is
	// never deleted, whatever its times.
	Active string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// chainObjects is what a listing holds of one chain id.
type chainObjects struct {
	names   []string
	newest  time.Time
	hasInfo bool
	hasEnd  bool
	segLast int64 // newest #TS of its segments
}

// Prune deletes the chains whose window ended before o.Horizon and, from
// a prune that stopped half-way or a base upload that never finished, the
// objects of chains without chain.json once they are StaleAfter old. The
// chain being shipped (o.Active) is never touched, nor a chain that has
// no end.json and had an object written within StaleAfter. chain.json is
// deleted first, so no chain.json ever names deleted objects; what is
// left after a failure is found and finished by the next prune. It
// returns the chains deleted (whole or what was left of them).
func (c *ChainStore) Prune(ctx context.Context, o PruneOptions) ([]string, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	objs, err := c.Objects.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("prune: list %s: %w", Prefix, err)
	}
	byID, order := groupObjects(objs)
	var deleted []string
	var errs []error
	for _, id := range order {
		ch := byID[id]
		ok, err := c.prunable(ctx, id, ch, o)
		if err == nil && ok {
			err = c.deleteChain(ctx, id, ch)
			if err == nil {
				deleted = append(deleted, id)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return deleted, errors.Join(errs...)
}

func groupObjects(objs []store.ObjectInfo) (map[string]*chainObjects, []string) {
	byID := map[string]*chainObjects{}
	var order []string
	for _, ob := range objs {
		id, name, ok := strings.Cut(ob.Name, "/")
		if !ok || !ValidChainID(id) {
			continue
		}
		ch := byID[id]
		if ch == nil {
			ch = &chainObjects{}
			byID[id] = ch
			order = append(order, id)
		}
		ch.names = append(ch.names, name)
		if ob.Modified.After(ch.newest) {
			ch.newest = ob.Modified
		}
		switch name {
		case infoName:
			ch.hasInfo = true
		case endName:
			ch.hasEnd = true
		default:
			if s, err := ParseSegmentName(id, strings.TrimSuffix(name, ageExt)); err == nil {
				ch.segLast = max(ch.segLast, s.LastTS)
			}
		}
	}
	return byID, order
}

// prunable decides whether the chain id goes.
func (c *ChainStore) prunable(ctx context.Context, id string, ch *chainObjects, o PruneOptions) (bool, error) {
	stale := o.Now().Sub(ch.newest) >= StaleAfter
	switch {
	case id == o.Active:
		return false, nil
	case !ch.hasInfo:
		return stale, nil // an unfinished start or an unfinished prune
	case !ch.hasEnd && !stale:
		return false, nil // may still be shipped
	case o.Horizon.IsZero():
		return false, nil
	}
	last := ch.segLast
	var info ChainInfo
	if err := c.readJSON(ctx, id+"/"+infoName, &info); err != nil {
		return false, fmt.Errorf("prune chain %s: %w", id, err)
	}
	last = max(last, info.BaseTS)
	if ch.hasEnd {
		var end ChainEnd
		if err := c.readJSON(ctx, id+"/"+endName, &end); err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, fmt.Errorf("prune chain %s: %w", id, err)
		}
		last = max(last, end.LastTS)
	}
	return last < o.Horizon.Unix(), nil
}

// deleteChain deletes chain.json first, then the other objects.
func (c *ChainStore) deleteChain(ctx context.Context, id string, ch *chainObjects) error {
	if ch.hasInfo {
		if err := c.deleteObject(ctx, id+"/"+infoName); err != nil {
			return err
		}
	}
	for _, name := range ch.names {
		if name == infoName {
			continue
		}
		if err := c.deleteObject(ctx, id+"/"+name); err != nil {
			return err
		}
	}
	return nil
}

func (c *ChainStore) deleteObject(ctx context.Context, name string) error {
	if err := c.Objects.Delete(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("prune: delete %s/%s: %w", Prefix, name, err)
	}
	return nil
}

// ActiveChain reads the chain being shipped from KeyProgress's value
// ("" when the value is empty).
func ActiveChain(progress string) (string, error) {
	if progress == "" {
		return "", nil
	}
	var st Status
	if err := json.Unmarshal([]byte(progress), &st); err != nil {
		return "", fmt.Errorf("%s: %w", KeyProgress, err)
	}
	return st.Chain, nil
}
