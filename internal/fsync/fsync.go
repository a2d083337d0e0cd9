// Package fsync makes renames and new files durable: after a rename, the
// directory that holds the new name must be synced too, or a crash can
// forget the rename.
package fsync

import (
	"fmt"
	"os"
)

// Dir syncs the directory dir, so that the names created, renamed or
// removed in it survive a crash.
func Dir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
