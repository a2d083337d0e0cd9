package etc

import (
	"fmt"
	"github.com/autopilotpattern/redis-autopilot/internal/fsync"
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes what render produces to path atomically: a temporary
// file in the same directory (mode 0600), fsync, rename over path, fsync of
// the directory. On any error path is left as it was.
func WriteFile(path string, render func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if err = render(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return fsync.Dir(dir)
}
