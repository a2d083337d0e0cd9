package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// Consul keys of the backup schedule (registry.KeyLastBackup holds the
// plain name, as the shell version wrote it).
const (
	// KeyLastBackupMeta describes the backup last-backup names, as JSON
	// (LastBackup). A reader trusts it only when its Name matches.
	KeyLastBackupMeta = "service/redis/last-backup-meta"
	// KeyBackupLock is held by the node taking a backup.
	KeyBackupLock = "service/redis/locks/backup"
)

// LastBackup is the newest good backup as Consul records it.
type LastBackup struct {
	Name        string    `json:"name"`
	Created     time.Time `json:"created"`
	Size        int64     `json:"size,omitempty"`
	SHA256      string    `json:"sha256,omitempty"`
	Compression string    `json:"compression,omitempty"`
	SourceRole  string    `json:"source_role,omitempty"`
	Node        string    `json:"node,omitempty"`
}

// KVStore reads and writes Consul keys (registry.Registry does).
type KVStore interface {
	KV
	Put(ctx context.Context, key, value string) error
}

// ReadLast returns the last good backup Consul records; found is false
// when last-backup is unset. A plain name (the shell version's) gets its
// time from the name.
func ReadLast(ctx context.Context, kv KV) (last LastBackup, found bool, err error) {
	name, found, err := kv.Get(ctx, registry.KeyLastBackup)
	if err != nil {
		return LastBackup{}, false, fmt.Errorf("read %s: %w", registry.KeyLastBackup, err)
	}
	name = strings.TrimSpace(name)
	if !found || name == "" {
		return LastBackup{}, false, nil
	}
	t, _, err := store.ParseName(name)
	if err != nil {
		return LastBackup{}, false, fmt.Errorf("read %s: %w", registry.KeyLastBackup, err)
	}
	last = LastBackup{Name: name, Created: t}
	raw, ok, err := kv.Get(ctx, KeyLastBackupMeta)
	if err != nil {
		return LastBackup{}, false, fmt.Errorf("read %s: %w", KeyLastBackupMeta, err)
	}
	var meta LastBackup
	if ok && json.Unmarshal([]byte(raw), &meta) == nil && meta.Name == name && !meta.Created.IsZero() {
		last = meta
	}
	return last, true, nil
}

// writeLast records a verified backup: the description first, then the
// plain name, so whoever reads the name finds its description.
func writeLast(ctx context.Context, kv KVStore, info store.Info, node string) error {
	meta, err := lastMeta(info, node)
	if err != nil {
		return err
	}
	if err := kv.Put(ctx, KeyLastBackupMeta, meta); err != nil {
		return fmt.Errorf("write %s: %w", KeyLastBackupMeta, err)
	}
	if err := kv.Put(ctx, registry.KeyLastBackup, info.Name); err != nil {
		return fmt.Errorf("write %s: %w", registry.KeyLastBackup, err)
	}
	return nil
}

// lastMeta is KeyLastBackupMeta's value for info.
func lastMeta(info store.Info, node string) (string, error) {
	last := LastBackup{Name: info.Name, Size: info.Size, Node: node}
	if m := info.Meta; m != nil {
		last.Created, last.SHA256, last.Compression, last.SourceRole = m.Created, m.SHA256, m.Compression, m.SourceRole
	}
	if last.Created.IsZero() {
		last.Created, _, _ = store.ParseName(info.Name)
	}
	b, err := json.Marshal(last)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", KeyLastBackupMeta, err)
	}
	return string(b), nil
}

// KVSwap is the check-and-set Restore moves last-backup off a corrupt
// backup with (registry.Registry has it).
type KVSwap interface {
	// GetIndexed reads key with its ModifyIndex.
	GetIndexed(ctx context.Context, key string) (value string, index uint64, found bool, err error)
	// PutIfUnchanged writes pairs in one transaction if key's ModifyIndex
	// is still index; ok is false, nothing written, when it is not.
	PutIfUnchanged(ctx context.Context, key string, index uint64, pairs map[string]string) (ok bool, err error)
}

// moveLast points last-backup and last-backup-meta at info, in one
// transaction, only while last-backup still names from (checked by its
// ModifyIndex): a node that recorded a newer backup meanwhile wins. moved
// is false when last-backup names something else.
func moveLast(ctx context.Context, kv KVSwap, from string, info store.Info) (moved bool, err error) {
	name, index, found, err := kv.GetIndexed(ctx, registry.KeyLastBackup)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", registry.KeyLastBackup, err)
	}
	if !found || strings.TrimSpace(name) != from {
		return false, nil
	}
	meta, err := lastMeta(info, "")
	if err != nil {
		return false, err
	}
	moved, err = kv.PutIfUnchanged(ctx, registry.KeyLastBackup, index,
		map[string]string{KeyLastBackupMeta: meta, registry.KeyLastBackup: info.Name})
	if err != nil {
		return false, fmt.Errorf("move %s to %s: %w", registry.KeyLastBackup, info.Name, err)
	}
	return moved, nil
}

// Prune deletes all but the keep newest backups (keep <= 0 keeps all),
// never the one named protect. It returns the names deleted.
func Prune(ctx context.Context, s store.Store, keep int, protect string) ([]string, error) {
	if keep <= 0 {
		return nil, nil
	}
	list, err := s.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	var deleted []string
	for i := 0; i < len(list)-keep; i++ { // oldest first
		if list[i].Name == protect {
			continue
		}
		if err := s.Delete(ctx, list[i].Name); err != nil {
			return deleted, fmt.Errorf("prune: %w", err)
		}
		deleted = append(deleted, list[i].Name)
	}
	return deleted, nil
}
