package dir

import (
	"context"
	"errors"
	"fmt"
	"github.com/autopilotpattern/redis-autopilot/internal/fsync"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
)

// staleTemp is the age (since its last write) at which List removes a
// temporary file an interrupted object Put left behind.
const staleTemp = time.Hour

// objects is a store.Objects in a subdirectory of the store: each "/" of
// a name is a directory (0700), each object a file (0600) written through a
// fsynced ".tmp-*" file renamed into place.
type objects struct {
	root string
}

// Objects implements store.Store.
func (s *Store) Objects(prefix string) (store.Objects, error) {
	p, err := store.CleanPrefix(prefix)
	if err != nil {
		return nil, err
	}
	return &objects{root: filepath.Join(s.dir, filepath.FromSlash(p))}, nil
}

func (o *objects) path(name string) string { return filepath.Join(o.root, filepath.FromSlash(name)) }

// Put implements store.Objects.
func (o *objects) Put(ctx context.Context, name string, r io.Reader) error {
	if err := store.CheckObjectName(name); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	dir, base := filepath.Split(o.path(name))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	if err := writeIn(ctx, dir, base, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// Get implements store.Objects. It follows no symbolic link.
func (o *objects) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := store.CheckObjectName(name); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	f, err := os.OpenFile(o.path(name), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			err = fs.ErrNotExist
		}
		return nil, fmt.Errorf("get %s: %w", name, notFound(err))
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("get %s: not a regular file: %w", name, store.ErrNotFound)
	}
	return f, nil
}

// Stat implements store.Objects.
func (o *objects) Stat(ctx context.Context, name string) (store.ObjectInfo, error) {
	if err := store.CheckObjectName(name); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	fi, err := o.regular(name)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat %s: %w", name, err)
	}
	return store.ObjectInfo{Name: name, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// regular returns the FileInfo of name if it is a regular file.
func (o *objects) regular(name string) (fs.FileInfo, error) {
	fi, err := os.Lstat(o.path(name))
	if err != nil {
		return nil, notFound(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file: %w", store.ErrNotFound)
	}
	return fi, nil
}

// Delete implements store.Objects.
func (o *objects) Delete(ctx context.Context, name string) error {
	if err := store.CheckObjectName(name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if _, err := o.regular(name); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	p := o.path(name)
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("delete %s: %w", name, notFound(err))
	}
	if err := fsync.Dir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// List implements store.Objects: a walk from the directory part of prefix
// that descends only where names can match, follows no symbolic link and
// removes stale temporary files on its way.
func (o *objects) List(ctx context.Context, prefix string) ([]store.ObjectInfo, error) {
	if err := store.CheckListPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	start := o.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = o.path(prefix[:i])
	}
	out := []store.ObjectInfo{}
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // never written, or deleted meanwhile
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == start {
			return nil
		}
		rel, _ := filepath.Rel(o.root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case e.IsDir():
			if !strings.HasPrefix(rel+"/", prefix) && !strings.HasPrefix(prefix, rel+"/") {
				return fs.SkipDir
			}
		case strings.HasPrefix(e.Name(), tmpPrefix):
			removeStale(p, e)
		case e.Type().IsRegular() && strings.HasPrefix(rel, prefix) && store.CheckObjectName(rel) == nil:
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, store.ObjectInfo{Name: rel, Size: fi.Size(), Modified: fi.ModTime()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", path.Join(filepath.ToSlash(o.root), prefix), err)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// removeStale removes a temp file nobody has written for staleTemp: a Put
// that crashed. A live Put keeps writing (or fails and removes its own);
// a backup's stalls are abandoned after BACKUP_STALL_TIMEOUT, far sooner.
// One whose input came back after so long fails with ErrTempRemoved.
func removeStale(p string, e fs.DirEntry) {
	if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
		_ = os.Remove(p)
	}
}
