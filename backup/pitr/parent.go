package pitr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// KeyParent holds, in Consul, the chain and second a cluster was restored
// from (a ParentRef as JSON) until the first chain shipped after the
// restore has recorded it in its chain.json.
const KeyParent = "service/redis/pitr/parent"

// parentFile is where `backup restore --to` leaves the ParentRef in the
// restored data directory, for the node to publish in Consul when it
// starts (a restore needs no Consul).
const parentFile = "parent.json"

// ParentRef names the chain and second a restore reached.
type ParentRef struct {
	Chain string `json:"chain"`
	TS    int64  `json:"ts"`
}

// Valid reports whether r names a chain and a second.
func (r ParentRef) Valid() bool { return ValidChainID(r.Chain) && r.TS > 0 }

// RestoredTo is the ParentRef of a restore of plan: the plan's chain and
// its target second, or for latest the last second the chain reaches.
func RestoredTo(p Plan) ParentRef {
	ts := p.Target
	if ts == Latest {
		ts = Follow(p.Chain).LastTS
	}
	return ParentRef{Chain: p.Chain.Info.ID, TS: ts}
}

func parentPath(dataDir string) string { return filepath.Join(dataDir, ".pitr", parentFile) }

// WriteParentFile leaves ref in the restored data directory.
func WriteParentFile(dataDir string, ref ParentRef) error {
	b, err := json.Marshal(ref)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(parentPath(dataDir)), 0o700); err != nil {
		return fmt.Errorf("record the restore's parent chain: %w", err)
	}
	if err := os.WriteFile(parentPath(dataDir), b, 0o600); err != nil {
		return fmt.Errorf("record the restore's parent chain: %w", err)
	}
	return nil
}

// ReadParentFile reads the ParentRef a restore left; found is false when
// there is none.
func ReadParentFile(dataDir string) (ref ParentRef, found bool, err error) {
	b, err := os.ReadFile(parentPath(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return ParentRef{}, false, nil
	}
	if err == nil && len(b) > maxJSON {
		err = fmt.Errorf("longer than %d bytes", maxJSON)
	}
	if err == nil {
		err = json.Unmarshal(b, &ref)
	}
	if err == nil && !ref.Valid() {
		err = fmt.Errorf("%+v names no chain and second", ref)
	}
	if err != nil {
		return ParentRef{}, false, fmt.Errorf("%s: %w", parentPath(dataDir), err)
	}
	return ref, true, nil
}

// RemoveParentFile removes the ParentRef once it is in Consul.
func RemoveParentFile(dataDir string) error {
	if err := os.Remove(parentPath(dataDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", parentPath(dataDir), err)
	}
	return nil
}

// parentRegistry is what the parent hand-over needs of Consul.
type parentRegistry interface {
	Get(ctx context.Context, key string) (string, bool, error)
	Delete(ctx context.Context, key string) error
}

// readParent reads KeyParent; a value that is not a ParentRef is logged
// and ignored.
func readParent(ctx context.Context, o ClusterOptions) ParentRef {
	v, found, err := o.Registry.Get(ctx, KeyParent)
	if err != nil || !found {
		if err != nil {
			o.Log.Warn("could not read the parent chain of a restore; the chain will not name it", "key", KeyParent, "error", err)
		}
		return ParentRef{}
	}
	var ref ParentRef
	if err := json.Unmarshal([]byte(v), &ref); err != nil || !ref.Valid() {
		o.Log.Warn("ignoring an invalid parent chain", "key", KeyParent, "value", v)
		return ParentRef{}
	}
	return ref
}

// parentRecorded deletes KeyParent once a chain.json names it.
func parentRecorded(ctx context.Context, o ClusterOptions) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := o.Registry.Delete(ctx, KeyParent); err != nil {
			o.Log.Warn("could not delete the recorded parent chain; the next chain names it too", "key", KeyParent, "error", err)
		}
	}
}
