package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/hashicorp/go-hclog"
)

// A backup is input like any other: whoever can write to the store can
// put a small file there that decompresses to terabytes, or whose zstd
// window asks for gigabytes of memory (a 67 KB .zst with a 512 MiB window
// once made a restore write 600 MiB and grow to 530 MiB of RSS before its
// sha256 was found wrong). So fetch first downloads the stored bytes into
// the staging directory and checks their size and sha256 against the
// sidecar, and only then decompresses, with the zstd window bounded
// (maxZstdWindow) and the output bounded by rdbBound.

// stagedSuffix names the downloaded, still compressed copy of a backup
// in the staging directory.
const stagedSuffix = ".stored"

// fetch downloads the backup, then decrypts (when its name says it is
// encrypted) and decompresses it into dst (in the staging directory).
// Errors of the data (size, sha256, decryption, decompression, the
// bounds) wrap ErrCorrupt; a backup no configured key opens is ErrKey
// (its bytes matched the sidecar's sha256, so the key is what is wrong);
// errors of the store or the local disk wrap neither.
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
	staged := dst + stagedSuffix
	defer os.Remove(staged)
	if err := download(ctx, o, log, info, staged); err != nil {
		return err
	}
	limit, err := rdbBound(info, o.DataDir)
	if err != nil {
		return err
	}
	err = expand(staged, info.Name, o.Encryption, dst, limit)
	if errors.Is(err, ErrKey) { // the sha256 matched: the key is wrong, not the data
		return keyError(info, o.Encryption, err)
	}
	if err != nil {
		return err
	}
	if fi, err := os.Stat(dst); err != nil {
		return err
	} else if limit.exact && fi.Size() != limit.n {
		return fmt.Errorf("decompressed to %d bytes, %s: %w", fi.Size(), limit.why, ErrCorrupt)
	}
	return nil
}

// download copies the stored bytes of the backup to path, checking them
// against the store's size and the sidecar's sha256 (a legacy backup has
// none). It runs under a stall watch: abandoned, it goes on in the
// background until the store answers or its context's end reaches it,
// writing at most into path, which the restore removes with its staging
// directory.
func download(ctx context.Context, o RestoreOptions, log hclog.Logger, info store.Info, path string) error {
	w := watchOf(o.Store, o.StallTimeout, "download "+info.Name)
	w.wait()
	_, err := watched(ctx, w, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, downloadTo(ctx, o, log, info, path, w)
	})
	return err
}

func downloadTo(ctx context.Context, o RestoreOptions, log hclog.Logger, info store.Info, path string, w *stallWatch) error {
	rc, err := o.Store.Get(ctx, info.Name)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer f.Close()
	src := newCounter(w.reader(rc), nil)
	prog := startProgress(log, o.Progress, o.ProgressInterval, "download "+info.Name, info.Size, src.n.Load)
	d := store.NewDigester(src)
	// One byte more than the store lists tells a longer object apart.
	n, err := copyTo(f, io.LimitReader(d, info.Size+1))
	prog.done()
	var werr *writeError
	switch {
	case errors.As(err, &werr):
		return fmt.Errorf("download into %s: %w", path, werr.err)
	case err != nil:
		return fmt.Errorf("download: %w", err)
	case n != info.Size:
		return fmt.Errorf("the store sent %d bytes or more of a backup it lists with %d: %w", n, info.Size, ErrCorrupt)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("download into %s: %w", path, err)
	}
	if info.Meta == nil {
		return nil
	}
	if _, err := d.Complete(store.Meta{Size: info.Meta.Size, SHA256: info.Meta.SHA256}); err != nil {
		return fmt.Errorf("downloaded data against the sidecar: %w: %w", ErrCorrupt, err)
	}
	return nil
}

// expand decrypts (when name says it is encrypted) and decompresses the
// file src, the stored bytes of backup name, into the new file dst,
// failing as soon as more than limit.n bytes come out. Errors wrap ErrKey
// when keys cannot open it.
func expand(src, name string, keys *crypt.Keys, dst string, limit bound) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := OpenPlain(in, name, keys)
	if errors.Is(err, ErrKey) {
		return err
	}
	if err != nil {
		return fmt.Errorf("decompress: %w: %w", ErrCorrupt, err)
	}
	defer zr.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	n, err := copyTo(out, io.LimitReader(zr, limit.n+1))
	var werr *writeError
	switch {
	case errors.As(err, &werr):
		return fmt.Errorf("decompress into %s: %w", dst, werr.err)
	case err != nil:
		return fmt.Errorf("decompress: %w: %w", ErrCorrupt, err)
	case n > limit.n:
		return fmt.Errorf("decompresses to more than %d bytes, %s: %w", limit.n, limit.why, ErrCorrupt)
	}
	return out.Close() // not synced: redis fsyncs the AOF made from it
}

// bound is how many bytes a backup may decompress to.
type bound struct {
	n     int64
	exact bool   // the RDB must be exactly n bytes
	why   string // for errors
}

// rdbBound is the RDB size the sidecar records. A backup without one (the
// shell version's, or a sidecar written before rdb_size) may take half
// the free space of the data directory's filesystem: the RDB and the AOF
// made from it must both fit there, so no larger backup could be restored
// anyway.
func rdbBound(info store.Info, dataDir string) (bound, error) {
	if info.Meta != nil && info.Meta.RDBSize > 0 {
		return bound{info.Meta.RDBSize, true, "the RDB size its sidecar records"}, nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dataDir, &st); err != nil {
		return bound{}, fmt.Errorf("free space in %s: %w", dataDir, err)
	}
	n := int64(st.Bavail) * st.Bsize / 2
	return bound{n, false, fmt.Sprintf("half the free space of %s (%d of %d MiB): its sidecar records no RDB size, and the RDB and "+
		"the AOF made from it must both fit; free space there if the backup is genuine", dataDir, n>>20, 2*n>>20)}, nil
}

// writeError marks an error of writing the local file, to tell it from a
// read error of the store or the decompressor.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

type markedWriter struct{ w io.Writer }

func (m markedWriter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// copyTo copies r to w through a 1 MiB buffer; errors of w are
// *writeError.
func copyTo(w io.Writer, r io.Reader) (int64, error) {
	return io.CopyBuffer(markedWriter{w}, r, make([]byte, store.BufferSize))
}
