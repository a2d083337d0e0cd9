package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// findBackup chooses the backup to restore: o.Name; else the one Consul's
// last-backup names (a plain name, as the shell version wrote it); else the
// newest good backup in the store; else, only as a fallback, the newest
// legacy backup without a sidecar.
func findBackup(ctx context.Context, o RestoreOptions) (store.Info, error) {
	if o.Name != "" {
		return statBackup(ctx, o.Store, o.Name)
	}
	named := false // Consul's last-backup names a backup
	if o.KV != nil {
		name, found, err := o.KV.Get(ctx, registry.KeyLastBackup)
		if err != nil {
			return store.Info{}, fmt.Errorf("read %s from Consul: %w", registry.KeyLastBackup, err)
		}
		name = strings.TrimSpace(name)
		switch {
		case !found || name == "":
		case !store.ValidName(name):
			o.Log.Warn("last-backup holds no backup name; using the newest good backup", "value", name)
		default:
			named = true
			info, err := statBackup(ctx, o.Store, name)
			if !errors.Is(err, ErrNoBackup) {
				return info, err
			}
			o.Log.Warn("the backup last-backup names is gone; using the newest good backup", "name", name)
		}
	}
	list, err := o.Store.List(ctx)
	if err != nil {
		return store.Info{}, fmt.Errorf("list backups in %s: %w", o.Store, err)
	}
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Good() {
			return list[i], nil
		}
	}
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Meta == nil && list[i].MetaErr == nil {
			o.Log.Warn("no backup with metadata; falling back to a legacy backup without a checksum", "name", list[i].Name)
			return list[i], nil
		}
	}
	if len(list) == 0 && !named && o.KV != nil {
		return store.Info{}, ErrNewCluster
	}
	return store.Info{}, fmt.Errorf("%s holds no usable backup (%d listed): %w", o.Store, len(list), ErrNoBackup)
}

func statBackup(ctx context.Context, s store.Store, name string) (store.Info, error) {
	info, err := s.Stat(ctx, name)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidName) {
		return store.Info{}, fmt.Errorf("backup %s: %w: %w", name, ErrNoBackup, err)
	}
	if err != nil {
		return store.Info{}, fmt.Errorf("stat backup %s in %s: %w", name, s, err)
	}
	return info, nil
}

// checkOutput picks the lines of a checker's output that say what is
// wrong (those mentioning an error), else the last few.
func checkOutput(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var picked []string
	for _, l := range lines {
		if strings.Contains(strings.ToLower(l), "error") {
			picked = append(picked, strings.TrimSpace(l))
		}
	}
	if len(picked) == 0 {
		picked = lines[max(0, len(lines)-3):]
	}
	if len(picked) > 4 {
		picked = picked[:4]
	}
	return strings.Join(picked, " | ")
}
