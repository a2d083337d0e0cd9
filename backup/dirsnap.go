package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// dirSnapshot remembers which entries an (empty of data) redis directory
// held before a restore, so a failed restore can put it back as it was.
type dirSnapshot struct {
	dir    string
	before map[string]bool
}

func snapshotDir(dir string) (*dirSnapshot, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	s := &dirSnapshot{dir: dir, before: map[string]bool{}}
	for _, e := range entries {
		s.before[e.Name()] = true
	}
	return s, nil
}

// rollback removes every entry the restore created. Entries that existed
// held no data (Restore checked with redisnode.HasData): an empty dump.rdb
// or appendonly.aof is emptied again, an empty appendonlydir emptied.
func (s *dirSnapshot) rollback() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.dir, err)
	}
	var errs []error
	for _, e := range entries {
		p := filepath.Join(s.dir, e.Name())
		switch {
		case !s.before[e.Name()]:
			errs = append(errs, os.RemoveAll(p))
		case e.Name() == "appendonlydir":
			errs = append(errs, emptyDir(p))
		case e.Name() == DefaultDBFilename || e.Name() == "appendonly.aof":
			errs = append(errs, os.Truncate(p, 0))
		}
	}
	return errors.Join(errs...)
}

func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}
