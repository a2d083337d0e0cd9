package redisnode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// HasData reports whether dir, a redis data directory, holds data: a
// non-empty dump.rdb or appendonly.aof, or a Redis 7 multi-part AOF
// directory (appendonlydir/) with any file in it. A missing dir has none.
func HasData(dir string) (bool, error) {
	for _, f := range []string{"dump.rdb", "appendonly.aof"} {
		st, err := os.Stat(filepath.Join(dir, f))
		switch {
		case err == nil && st.Size() > 0:
			return true, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return false, fmt.Errorf("look for data in %s: %w", dir, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "appendonlydir"))
	switch {
	case err == nil:
		return len(entries) > 0, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("look for data in %s: %w", dir, err)
	}
}
