package backup

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/hashicorp/go-hclog"
)

// Defaults of Options.
const (
	DefaultBgsaveTimeout = 30 * time.Minute
	DefaultDBFilename    = "dump.rdb"
)

// Errors of Backup.
var (
	// ErrInvalidOptions is wrapped when Options or RestoreOptions are
	// unusable.
	ErrInvalidOptions = errors.New("invalid backup options")
	// ErrVerify is wrapped when an uploaded backup does not read back as
	// what was sent; the backup has been deleted.
	ErrVerify = errors.New("backup verification failed")
)

// Options say how to take one backup.
type Options struct {
	// Redis is the local redis-server. Required.
	Redis *redisnode.Client
	// DataDir is redis's dir, holding DBFilename. Required.
	DataDir string
	// DBFilename is redis's dbfilename; default DefaultDBFilename.
	DBFilename string
	// Store receives the backup. Required.
	Store store.Store
	// Compression is "zstd", "gzip" or "" (none).
	Compression string
	// Encryption, when set (BACKUP_ENCRYPTION_KEY), encrypts the backup
	// after compressing it; its name then ends in store.EncryptedSuffix
	// and the verification read-back decrypts it with the same keys.
	Encryption *crypt.Keys
	// Role is recorded as the source role; empty means INFO's.
	Role string
	// Log receives progress and results; nil discards.
	Log hclog.Logger
	// Progress, when set (a terminal), gets a live progress line.
	Progress io.Writer
	// ProgressInterval is how often progress is logged; default
	// DefaultProgressInterval.
	ProgressInterval time.Duration
	// BgsaveTimeout bounds waiting for redis's snapshot; default
	// DefaultBgsaveTimeout.
	BgsaveTimeout time.Duration
	// StallTimeout (BACKUP_STALL_TIMEOUT) bounds how long the upload and
	// the verification read-back may wait on the store without progress;
	// default DefaultStallTimeout.
	StallTimeout time.Duration
	// Now is the clock naming the backup; default time.Now.
	Now func() time.Time
	// Stats, when set, receives the phases' durations and sizes.
	Stats *Stats
}

// Stats describe one backup: how long each phase took and how much went
// through it.
type Stats struct {
	Bgsave, Upload, Verify time.Duration
	RDBBytes, StoredBytes  int64
}

func (o *Options) validate() error {
	switch {
	case o.Redis == nil:
		return fmt.Errorf("%w: Redis is required", ErrInvalidOptions)
	case o.DataDir == "":
		return fmt.Errorf("%w: DataDir is required", ErrInvalidOptions)
	case o.Store == nil:
		return fmt.Errorf("%w: Store is required", ErrInvalidOptions)
	}
	if _, err := store.Name(time.Time{}, o.Compression); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if o.DBFilename == "" {
		o.DBFilename = DefaultDBFilename
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.BgsaveTimeout <= 0 {
		o.BgsaveTimeout = DefaultBgsaveTimeout
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Backup takes one verified backup and returns its Info (with Meta). On
// error nothing is left in the store under the backup's name; after a
// stall (ErrStalled) what is left is deleted in the background, once the
// store answers again.
func Backup(ctx context.Context, o Options) (store.Info, error) {
	if err := o.validate(); err != nil {
		return store.Info{}, err
	}
	start := o.Now()
	info, err := o.Redis.Info(ctx, "server", "replication")
	if err != nil {
		return store.Info{}, fmt.Errorf("backup: read INFO: %w", err)
	}
	meta := store.Meta{Compression: o.Compression, RedisVersion: info.RedisVersion(), Server: info.Server(),
		SourceRole: o.Role, SourceReplOffset: info.MasterReplOffset(), Created: start}
	encryptionMeta(&meta, o.Encryption)
	if meta.SourceRole == "" {
		meta.SourceRole = info.Role()
	}
	stats := o.Stats
	if stats == nil {
		stats = &Stats{}
	}
	if _, err := bgsave(ctx, o.Redis, o.BgsaveTimeout); err != nil {
		return store.Info{}, fmt.Errorf("backup: %w", err)
	}
	stats.Bgsave = o.Now().Sub(start)
	name, err := store.Name(start, o.Compression)
	if err != nil {
		return store.Info{}, err
	}
	if o.Encryption != nil {
		name += store.EncryptedSuffix
	}
	log := o.Log.With("backup", name)
	err = upload(ctx, o, log, name, meta, stats)
	var st store.Info
	if err == nil {
		// The upload's buffers (compress.go) are garbage now. Collected
		// here, the heap the read-back grows on is its own: else the
		// read-back's garbage (age allocates each 64 KiB chunk it opens)
		// fills the heap up to twice the upload's before the next GC.
		runtime.GC()
		t := time.Now()
		st, err = verifyWatched(ctx, o, name, stats.StoredBytes)
		stats.Verify = time.Since(t)
	}
	if err != nil {
		deleteFailed(ctx, o, log, name, err)
		return store.Info{}, fmt.Errorf("backup %s: %w", name, err)
	}
	log.Info("backup complete", "size", st.Size, "sha256", st.Meta.SHA256, "seconds", o.Now().Sub(start).Seconds())
	return st, nil
}

// deleteFailed removes what a failed backup left in the store. After a
// stall it does not wait: the store may answer late or never, and the
// backup lock must be given up now.
func deleteFailed(ctx context.Context, o Options, log hclog.Logger, name string, cause error) {
	del := func(ctx context.Context) {
		if err := o.Store.Delete(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
			log.Warn("could not delete the failed backup", "error", err)
		}
	}
	ctx = context.WithoutCancel(ctx)
	if !errors.Is(cause, ErrStalled) {
		del(ctx)
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(ctx, o.StallTimeout)
		defer cancel()
		del(ctx)
	}()
}

// verifyWatched is verify under a stall watch: all of it waits on the
// store, and the bytes Get delivers are its progress.
func verifyWatched(ctx context.Context, o Options, name string, size int64) (store.Info, error) {
	w := newStallWatch(o.StallTimeout, o.Store)
	w.wait()
	st, err := watched(ctx, w, func(ctx context.Context) (store.Info, error) {
		return verify(ctx, watchedGets{o.Store, w}, name, size, o.Encryption)
	})
	if errors.Is(err, ErrStalled) {
		err = fmt.Errorf("verify: read back: %w", err)
	}
	return st, err
}

// watchedGets counts the bytes a store's Get delivers as progress.
type watchedGets struct {
	store.Store
	w *stallWatch
}

func (s watchedGets) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := s.Store.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{s.w.reader(rc), rc}, nil
}

// upload streams the RDB through the compressor into the store; stats
// gets the sizes read and sent.
func upload(ctx context.Context, o Options, log hclog.Logger, name string, meta store.Meta, stats *Stats) error {
	f, err := os.Open(filepath.Join(o.DataDir, o.DBFilename))
	if err != nil {
		return fmt.Errorf("open the snapshot: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat the snapshot: %w", err)
	}
	meta.RDBSize = fi.Size() // a restore decompresses no more than this
	var read atomic.Int64
	prog := startProgress(log, o.Progress, o.ProgressInterval, "upload "+name, fi.Size(), read.Load)

	// The store hashes the stream it reads (Meta.SHA256); Verify then
	// proves the stored bytes hash the same and that the size is what
	// was sent. Hashing here as well would cost ~5 % more CPU for no
	// further check. Put runs under a stall watch: we wait on the store
	// while the compressor's writes into the pipe block, and once the
	// body is handed over.
	// Waiting for BGSAVE leaves the heap's pages full of INFO replies'
	// garbage, up to the GC's 4 MB minimum goal on a long save; the
	// compressor's buffers would land beside them. Handing those pages
	// back first keeps the peak RSS from depending on how long the save
	// took (plain backups, 100 MB then 1 GB: 31.4 and 31.9 MB without it,
	// 30.5 and 30.8 MB with it; docs/FIGURES.md).
	debug.FreeOSMemory()
	w := newStallWatch(o.StallTimeout, o.Store)
	pr, pw := io.Pipe()
	sent := &countWriter{}
	compressed := make(chan struct{})
	go func() {
		defer close(compressed)
		pw.CloseWithError(compressTo(io.MultiWriter(w.writer(pw), sent), f, fi.Size(), &read, o.Compression, o.Encryption))
		w.wait()
	}()
	_, err = watched(ctx, w, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, o.Store.Put(ctx, name, w.reader(pr), meta)
	})
	// Unblocks the compressor if Put returned early; after a stall, a Put
	// that wakes up reads an error, never the end of the body.
	pr.CloseWithError(cmp.Or(err, errUploadEnded))
	<-compressed
	n, took := prog.done()
	stats.Upload, stats.RDBBytes, stats.StoredBytes = took, n, sent.n
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if n != fi.Size() {
		return fmt.Errorf("upload: read %d bytes of a %d-byte snapshot", n, fi.Size())
	}
	log.Info("uploaded", "rdb_bytes", n, "stored_bytes", sent.n, "seconds", took.Seconds(),
		"mb_per_s", fmt.Sprintf("%.1f", float64(n)/1e6/took.Seconds()))
	return nil
}

// compressTo compresses the size bytes at the start of src, then encrypts
// them when keys are set, into w; read counts the bytes read from src.
// zstd reads src itself, a frame per worker (zstdFrames). Without
// compression, io.Copy's 32 KiB writes go through a 1 MiB buffer (it
// doubles streaming throughput into an HTTP PUT, per performance.md). zstd
// and gzip write whole frames and blocks of hundreds of KiB, and age seals
// 64 KiB chunks: a buffer would only copy them and hold 1 MiB more
// (bench/run.sh rss: the encrypted backup's peak RSS, throughput and
// restore time against the plain one's).
func compressTo(w io.Writer, src io.ReaderAt, size int64, read *atomic.Int64, compression string, keys *crypt.Keys) error {
	var bw *bufio.Writer
	if compression == "" {
		bw = bufio.NewWriterSize(w, store.BufferSize)
		w = bw
	}
	ew, sealLast, err := encryptTo(w, keys)
	if err != nil {
		return err
	}
	if compression == "zstd" {
		err = zstdFrames(ew, src, size, concurrency(), func(n int) { read.Add(int64(n)) })
	} else {
		err = compressStream(ew, newCounter(io.NewSectionReader(src, 0, size), read), compression)
	}
	if err != nil {
		return err
	}
	if err := sealLast(); err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	if bw == nil {
		return nil
	}
	return bw.Flush()
}

// compressStream copies src into w through the stream compressor.
func compressStream(w io.Writer, src io.Reader, compression string) error {
	zw, err := compressor(w, compression)
	if err != nil {
		return err
	}
	if _, err := io.Copy(zw, src); err != nil {
		zw.Close()
		return fmt.Errorf("compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	return nil
}

var errUploadEnded = errors.New("upload ended")

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
