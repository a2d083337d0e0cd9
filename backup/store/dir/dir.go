// Package dir is a backup store in a local directory (BACKUP_DIR), for
// development and single hosts. Writes go to a ".tmp-*" file in the same
// directory, are fsynced and renamed into place, then the directory is
// fsynced, so a name never refers to a partial file, even after a crash.
//
// The directory's files are input: whatever is in it is opened without
// following symbolic links and without blocking (a FIFO), used only when
// it is a regular file, and a sidecar is read up to maxSidecar bytes.
package dir

import (
	"context"
	"errors"
	"fmt"
	"github.com/autopilotpattern/redis-autopilot/internal/fsync"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/hashicorp/go-hclog"
)

const tmpPrefix = ".tmp-"

// Options configures a directory store.
type Options struct {
	// Dir holds the backups; created (0700) if missing. Required.
	Dir string
	// Log gets a WARN for each file that is skipped because it is not a
	// regular file; nil discards.
	Log hclog.Logger
}

// Store is a store.Store in a local directory.
type Store struct {
	dir string
	log hclog.Logger
}

var _ store.Store = (*Store)(nil)

var (
	// ErrNoDir: Options.Dir is empty.
	ErrNoDir = errors.New("backup directory not set")
	// ErrTempRemoved: a Put's temp file was removed before it was renamed
	// into place. Nothing was stored under the name.
	ErrTempRemoved = errors.New("the upload's temporary file was removed before it was complete")
)

// New opens (creating if needed) the directory and removes temporary files
// left by a Put that crashed (nobody has written them for staleTemp).
func New(o Options) (*Store, error) {
	if o.Dir == "" {
		return nil, ErrNoDir
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create backup dir: %w", err)
	}
	entries, err := os.ReadDir(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("read backup dir: %w", err)
	}
	// The directory may be shared by every node (a bind mount, NFS): a
	// temp file somebody wrote in the last staleTemp is another node's
	// upload in flight, not debris, and stays.
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			removeStale(filepath.Join(o.Dir, e.Name()), e)
		}
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	return &Store{dir: o.Dir, log: o.Log}, nil
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, meta store.Meta) error {
	if _, _, err := store.ParseName(name); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	d := store.NewDigester(ctxReader{ctx, r})
	if err := s.writeAtomic(ctx, name, d); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	m, err := d.Complete(meta)
	if err == nil {
		err = s.writeAtomic(ctx, name+store.SidecarSuffix, strings.NewReader(string(store.EncodeMeta(m))))
	}
	if err != nil {
		_ = os.Remove(filepath.Join(s.dir, name))
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// writeAtomic writes r to name in the store's directory; see writeIn.
func (s *Store) writeAtomic(ctx context.Context, name string, r io.Reader) error {
	return writeIn(ctx, s.dir, name, r)
}

// writeIn writes r to a temp file in dir, fsyncs it and renames it to
// name, unless ctx is done by then. A caller that gave up on a Put stuck in
// a syscall (a frozen filesystem ignores contexts) may have moved on; when
// the Put wakes, it removes its temp file and never renames it into place.
func writeIn(ctx context.Context, dir, name string, r io.Reader) (err error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			if !errors.Is(err, ErrTempRemoved) { // the name may be another's now
				_ = os.Remove(f.Name())
			}
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	// *os.File is an io.ReaderFrom, so io.CopyBuffer would never use a
	// buffer given to it (one of 1 MiB was allocated for nothing): the
	// file reads r through a 32 KiB buffer of its own.
	if _, err = io.Copy(f, r); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	written, err := f.Stat()
	if err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = stillOurs(f.Name(), written); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
		return tempRemoved(f.Name()) // removed between the check and the rename
	} else if err != nil {
		return err
	}
	return fsync.Dir(dir)
}

// stillOurs checks that the temp file at p is still the one written. A
// Put that wrote nothing for staleTemp is taken for a crashed one and its
// temp file removed by any node's New or List (the directory may be
// shared): writes to it then go to an unlinked file, and renaming its name
// would fail, or move another file into place.
func stillOurs(p string, written fs.FileInfo) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !os.SameFile(fi, written) {
		return tempRemoved(p)
	}
	return err
}

func tempRemoved(p string) error {
	return fmt.Errorf("%s: %w (nothing was written to it for over %s, so a node that opened or listed the store took it for a crashed upload's); nothing was stored: take it again, and find what held the upload up",
		p, ErrTempRemoved, staleTemp)
}

func (s *Store) syncDir() error { return fsync.Dir(s.dir) }

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if _, _, err := store.ParseName(name); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	f, _, err := openRegular(filepath.Join(s.dir, name))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, notFound(err))
	}
	return f, nil
}

// Stat implements store.Store.
func (s *Store) Stat(ctx context.Context, name string) (store.Info, error) {
	if _, _, err := store.ParseName(name); err != nil {
		return store.Info{}, fmt.Errorf("stat: %w", err)
	}
	path := filepath.Join(s.dir, name)
	fi, err := os.Lstat(path)
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(path, fi.Mode())
	}
	if err != nil {
		return store.Info{}, fmt.Errorf("stat %s: %w", name, notFound(err))
	}
	return s.info(fi), nil
}

func (s *Store) info(fi fs.FileInfo) store.Info {
	i := store.Info{Name: fi.Name(), Size: fi.Size(), Modified: fi.ModTime()}
	b, err := readSidecar(filepath.Join(s.dir, fi.Name()+store.SidecarSuffix))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, ErrNotRegular) || errors.Is(err, errSidecarSize):
		s.log.Warn("a backup's sidecar is unusable; the backup is not a candidate", "backup", fi.Name(), "error", err)
		i.MetaErr = err
	case err != nil:
		i.MetaErr = err
	default:
		i.Meta, i.MetaErr = store.DecodeMeta(b)
	}
	return i
}

// List implements store.Store.
func (s *Store) List(ctx context.Context) ([]store.Info, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.dir, err)
	}
	var out []store.Info
	for _, e := range entries {
		if !store.ValidName(e.Name()) {
			continue
		}
		if !e.Type().IsRegular() {
			s.log.Warn("skipping a backup that is not a regular file", "path", filepath.Join(s.dir, e.Name()), "type", e.Type().String())
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) { // deleted meanwhile
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", s.dir, err)
		}
		out = append(out, s.info(fi))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, name string) error {
	if _, _, err := store.ParseName(name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	found := false
	for _, n := range []string{name, name + store.SidecarSuffix} {
		err := os.Remove(filepath.Join(s.dir, n))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", n, err)
		}
		found = found || err == nil
	}
	if !found {
		return fmt.Errorf("delete %s: %w", name, store.ErrNotFound)
	}
	if err := s.syncDir(); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return store.ErrNotFound
	}
	return err
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// String describes the store for messages: "directory <path>".
func (s *Store) String() string { return "directory " + s.dir }
