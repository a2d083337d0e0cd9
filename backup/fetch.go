package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/hashicorp/go-hclog"
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

// storeReadError marks an error of reading from the store, to tell a
// failed download from corrupt data.
type storeReadError struct{ err error }

func (e *storeReadError) Error() string { return e.err.Error() }
func (e *storeReadError) Unwrap() error { return e.err }

type storeReader struct{ r io.Reader }

func (s storeReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &storeReadError{err}
	}
	return n, err
}

// fetch downloads the backup, decrypts (when its name says it is
// encrypted) and decompresses it into dst in one pass, checking the
// stored bytes' size and sha256 against the sidecar. One pass (rather than
// a compressed temporary copy first) halves the disk traffic; nothing
// reads dst before every check has passed. A backup no configured key
// opens is ErrKey, not ErrCorrupt, unless its bytes differ from the
// sidecar's sha256 (a damaged header looks like a wrong key).
func fetch(ctx context.Context, o RestoreOptions, log hclog.Logger, info store.Info, dst string) error {
	if info.MetaErr != nil {
		return fmt.Errorf("sidecar unreadable: %w: %w", ErrCorrupt, info.MetaErr)
	}
	if info.Meta != nil && info.Meta.Size != info.Size {
		return fmt.Errorf("stored size %d, sidecar says %d (truncated?): %w", info.Size, info.Meta.Size, ErrCorrupt)
	}
	if store.Encrypted(info.Name) && o.Encryption == nil { // not worth a download
		return keyError(info, nil, fmt.Errorf("%w: %w", ErrKey, crypt.ErrNoKey))
	}
	rc, err := o.Store.Get(ctx, info.Name)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer rc.Close()
	src := &counter{r: storeReader{rc}}
	prog := startProgress(log, o.Progress, o.ProgressInterval, "download "+info.Name, info.Size, src.n.Load)
	d := store.NewDigester(src)
	err = decodeFile(d, info.Name, o.Encryption, dst)
	prog.done()
	var rerr *storeReadError
	if errors.As(err, &rerr) {
		return fmt.Errorf("download and write: %w", rerr.err)
	}
	if err != nil && info.Meta != nil {
		// Say whether the stored bytes differ from what was uploaded.
		if _, derr := io.Copy(io.Discard, d); derr == nil {
			if _, serr := d.Complete(sidecarSum(info)); serr != nil {
				return fmt.Errorf("downloaded data against the sidecar: %w: %w (%v)", ErrCorrupt, serr, err)
			}
		}
	}
	switch {
	case errors.Is(err, ErrKey):
		return keyError(info, o.Encryption, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case info.Meta == nil:
		return nil
	}
	if _, err := d.Complete(sidecarSum(info)); err != nil {
		return fmt.Errorf("downloaded data against the sidecar: %w: %w", ErrCorrupt, err)
	}
	return nil
}

func sidecarSum(info store.Info) store.Meta {
	return store.Meta{Size: info.Meta.Size, SHA256: info.Meta.SHA256}
}

// decodeFile writes what r, the stored bytes of backup name, holds
// (decrypted, decompressed) to a new file dst and then reads whatever of
// r follows the compressed stream.
func decodeFile(r io.Reader, name string, keys *crypt.Keys, dst string) (err error) {
	zr, err := OpenPlain(r, name, keys)
	if err != nil {
		return err
	}
	defer zr.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return &storeReadError{fmt.Errorf("create %s: %w", dst, err)}
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = &storeReadError{cerr}
		}
	}()
	if _, err := io.Copy(f, zr); err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	return nil // not synced: redis fsyncs the AOF made from it
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
