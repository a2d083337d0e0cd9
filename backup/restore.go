package backup

import (
	"context"
	"errors"
	"fmt"
	"github.com/autopilotpattern/redis-autopilot/internal/fsync"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/hashicorp/go-hclog"
)

// Errors of Restore.
var (
	// ErrDataExists: the data directory already holds data; nothing was
	// touched.
	ErrDataExists = errors.New("data directory already holds data")
	// ErrNoBackup: the store holds no backup to restore (or not the one
	// asked for).
	ErrNoBackup = errors.New("no backup to restore")
	// ErrNewCluster wraps ErrNoBackup when nothing says a backup ever
	// existed: Consul names none in last-backup and the store is empty. A
	// node then starts empty: this is a new cluster.
	ErrNewCluster = fmt.Errorf("%w: the store is empty and Consul names no last backup (a new cluster)", ErrNoBackup)
	// ErrCorrupt: the backup failed a check (sha256 or size against its
	// sidecar, decompression, redis-check-rdb, or loading into redis).
	ErrCorrupt = errors.New("backup failed verification")
)

// Defaults of RestoreOptions.
const (
	DefaultLoadTimeout = 30 * time.Minute
	stagingPrefix      = ".restore-"
	aofDir             = "appendonlydir"
)

// KV reads Consul keys (registry.Registry does).
type KV interface {
	Get(ctx context.Context, key string) (value string, found bool, err error)
}

// RestoreOptions say how to restore a backup into an empty data directory.
type RestoreOptions struct {
	// Store holds the backups. Required.
	Store store.Store
	// KV finds the last good backup's name (KeyLastBackup); nil means
	// the newest good backup in the store. When it is a KVSwap too,
	// last-backup is moved off a corrupt backup restore fell back from.
	KV KV
	// Name restores this backup instead of finding one.
	Name string
	// DataDir is the redis data directory; it must hold no data. Required.
	DataDir string
	// Sup runs redis-check-rdb and the private redis-server. Required.
	Sup *supervisor.Supervisor
	// RedisServerPath and CheckRDBPath are the programs; defaults
	// "redis-server" and "redis-check-rdb" from PATH.
	RedisServerPath, CheckRDBPath string
	// Password is the node's REDIS_PASSWORD; the private redis uses it too.
	Password string
	// User, Include and UserSets are the user's directives
	// (REDIS_CONFIG_EXTRA, REDIS_CONFIG_INCLUDE_DIR's files) as in
	// etc.RedisConf: the private redis-server loads the backup with them,
	// so a module's data types (loadmodule) and the user's encodings and
	// AOF format are those the node then runs with.
	User, Include, UserSets []string
	// Encryption holds the keys (BACKUP_ENCRYPTION_KEY) that decrypt
	// encrypted backups; nil refuses them with ErrKey.
	Encryption *crypt.Keys
	// AllowEmpty (RESTORE_ALLOW_EMPTY) makes "the store holds no backup"
	// a warning instead of an error. A backup that exists but fails a
	// check, and a store that cannot be read, are errors regardless: an
	// empty master there would soon overwrite last-backup with an empty
	// backup.
	AllowEmpty bool
	// SocketDir is where the private 0700 socket directory is made;
	// default os.TempDir() (a unix socket path must fit in 108 bytes).
	SocketDir string
	// LoadTimeout bounds the private redis's load and AOF rewrite;
	// default DefaultLoadTimeout.
	LoadTimeout time.Duration
	// StallTimeout (BACKUP_STALL_TIMEOUT) bounds how long the restore may
	// wait on the store without progress (finding the backup, the
	// download); default DefaultStallTimeout. A stall is ErrStalled, and
	// the data directory is left as it was.
	StallTimeout time.Duration
	Log          hclog.Logger
	// Progress and ProgressInterval as in Options.
	Progress         io.Writer
	ProgressInterval time.Duration
}

func (o *RestoreOptions) validate() error {
	switch {
	case o.Store == nil:
		return fmt.Errorf("%w: Store is required", ErrInvalidOptions)
	case o.DataDir == "":
		return fmt.Errorf("%w: DataDir is required", ErrInvalidOptions)
	case o.Sup == nil:
		return fmt.Errorf("%w: Sup is required", ErrInvalidOptions)
	}
	if o.RedisServerPath == "" {
		o.RedisServerPath = "redis-server"
	}
	if o.CheckRDBPath == "" {
		o.CheckRDBPath = "redis-check-rdb"
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = DefaultLoadTimeout
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	return nil
}

// Restore puts a backup into o.DataDir as the AOF redis starts from and
// returns its name, or "" when there was none and AllowEmpty let the node
// start empty. It refuses a data directory that holds data. On error the
// data directory is left as it was.
func Restore(ctx context.Context, o RestoreOptions) (string, error) {
	if err := o.validate(); err != nil {
		return "", err
	}
	o.Store = stallGuard{o.Store, o.StallTimeout}
	if has, err := redisnode.HasData(o.DataDir); err != nil || has {
		if err == nil {
			err = ErrDataExists
		}
		return "", fmt.Errorf("restore into %s: %w", o.DataDir, err)
	}
	info, err := findBackup(ctx, o)
	if errors.Is(err, ErrNewCluster) && o.Name == "" {
		o.Log.Info("no backup exists yet and Consul names none: starting empty as a new cluster", "store", o.Store)
		return "", nil
	}
	if errors.Is(err, ErrNoBackup) && o.AllowEmpty && o.Name == "" {
		o.Log.Warn("no backup to restore; starting empty because RESTORE_ALLOW_EMPTY is set", "reason", err)
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	start := time.Now()
	err = restoreInto(ctx, o, o.Log.With("backup", info.Name), info)
	if errors.Is(err, ErrCorrupt) && o.Name == "" {
		info, err = fallBack(ctx, o, info, err)
	} else if err != nil {
		err = fmt.Errorf("restore %s: %w", info.Name, err)
	}
	if err != nil {
		return "", err
	}
	o.Log.Info("restored", "backup", info.Name, "seconds", time.Since(start).Seconds())
	return info.Name, nil
}

// fallBack restores the newest older backup that passes every check after
// the one chosen, bad, failed them with badErr. A node that cannot restore
// cannot start, and the cluster would stay down until someone came; an
// older backup loses the writes since, but brings it back. Only backups
// with a sidecar are tried (their sha256 is checked), newest first, each
// staged like the first, so the data directory is untouched until one has
// passed. Corrupt backups are kept (someone may want to look at them);
// last-backup is moved off bad. An explicitly named backup never falls
// back.
func fallBack(ctx context.Context, o RestoreOptions, bad store.Info, badErr error) (store.Info, error) {
	o.Log.Error("the backup to restore failed its checks; trying older backups", "backup", bad.Name, "error", badErr)
	tried := []string{fmt.Sprintf("%s: %v", bad.Name, badErr)}
	badTime, _, _ := store.ParseName(bad.Name)
	list, err := o.Store.List(ctx)
	if err != nil {
		return store.Info{}, fmt.Errorf("restore %s: %w; list older backups in %s: %w", bad.Name, badErr, o.Store, err)
	}
	for i := len(list) - 1; i >= 0; i-- {
		c := list[i]
		if t, _, _ := store.ParseName(c.Name); !t.Before(badTime) || !c.Good() {
			continue
		}
		log := o.Log.With("backup", c.Name)
		log.Warn("falling back to an older backup", "instead_of", bad.Name)
		err := restoreInto(ctx, o, log, c)
		if err == nil {
			moveLastOff(ctx, o, bad.Name, c)
			return c, nil
		}
		if !errors.Is(err, ErrCorrupt) { // the store cannot be read, or we were stopped
			return store.Info{}, fmt.Errorf("restore %s, falling back from %s (%v): %w", c.Name, bad.Name, badErr, err)
		}
		log.Error("the older backup failed its checks too", "error", err)
		tried = append(tried, fmt.Sprintf("%s: %v", c.Name, err))
	}
	return store.Info{}, fmt.Errorf("restore: no backup in %s passed its checks (tried %s): %w; "+
		"restore one by hand with `redis-autopilot backup restore <name>` (node stopped, data directory empty), "+
		"or delete the corrupt backups (`redis-autopilot backup delete --force <name>`) and set RESTORE_ALLOW_EMPTY=true to start empty",
		o.Store, strings.Join(tried, "; "), ErrCorrupt)
}

// moveLastOff points last-backup at the restored backup if it still names
// the corrupt one, so no later restore picks that again. The restore has
// succeeded whatever happens here.
func moveLastOff(ctx context.Context, o RestoreOptions, corrupt string, restored store.Info) {
	kv, ok := o.KV.(KVSwap)
	if !ok {
		return
	}
	moved, err := moveLast(ctx, kv, corrupt, restored)
	switch {
	case err != nil:
		o.Log.Warn("could not move last-backup off the corrupt backup", "corrupt", corrupt, "restored", restored.Name, "error", err)
	case moved:
		o.Log.Warn("last-backup moved off the corrupt backup", "corrupt", corrupt, "restored", restored.Name)
	}
}

// restoreInto downloads, checks and converts the backup in a staging
// directory inside DataDir (".restore-*", which is not data to
// redisnode.HasData), then renames the finished appendonlydir/ into
// DataDir. A crash or error before that rename leaves DataDir without
// data, so the next start restores again; stale staging directories are
// removed first.
func restoreInto(ctx context.Context, o RestoreOptions, log hclog.Logger, info store.Info) error {
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return err
	}
	if err := removeStaging(o.DataDir); err != nil {
		return err
	}
	staging, err := os.MkdirTemp(o.DataDir, stagingPrefix)
	if err != nil {
		return fmt.Errorf("staging directory: %w", err)
	}
	defer os.RemoveAll(staging)
	rdb := filepath.Join(staging, DefaultDBFilename)
	start := time.Now()
	if err := fetch(ctx, o, log, info, rdb); err != nil {
		return err
	}
	log.Info("downloaded and decompressed", "seconds", time.Since(start).Seconds())
	if err := checkAndConvert(ctx, o, log, staging, rdb); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(staging, aofDir), filepath.Join(o.DataDir, aofDir)); err != nil {
		return fmt.Errorf("move the AOF into place: %w", err)
	}
	return fsync.Dir(o.DataDir)
}

// removeStaging removes what an interrupted restore left.
func removeStaging(dataDir string) error {
	stale, err := filepath.Glob(filepath.Join(dataDir, stagingPrefix+"*"))
	if err != nil {
		return err
	}
	for _, p := range stale {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("remove a stale staging directory: %w", err)
		}
	}
	return nil
}

// checkAndConvert runs redis-check-rdb and the conversion to AOF side by
// side (each is one core's work; the conversion happens in the staging
// directory, so nothing is used before both succeed). A failed check
// stops the conversion and is the error reported.
func checkAndConvert(ctx context.Context, o RestoreOptions, log hclog.Logger, staging, rdb string) error {
	convCtx, stopConv := context.WithCancel(ctx)
	defer stopConv()
	checked := make(chan error, 1)
	go func() {
		err := checkRDB(ctx, o, rdb)
		if err != nil {
			stopConv()
		}
		checked <- err
	}()
	convErr := convertToAOF(convCtx, o, log, staging)
	if err := <-checked; err != nil {
		return err
	}
	log.Info("redis-check-rdb passed")
	return convErr
}

// checkRDB runs redis-check-rdb on the decompressed file.
func checkRDB(ctx context.Context, o RestoreOptions, path string) error {
	res, err := o.Sup.Run(ctx, supervisor.Command{Name: "redis-check-rdb", Path: o.CheckRDBPath,
		Args: []string{path}, CaptureLimit: 16 << 10})
	var exit *supervisor.ExitError
	if errors.As(err, &exit) {
		if ierr := incompatible(ctx, o, res.Output); ierr != nil {
			return ierr
		}
		return fmt.Errorf("redis-check-rdb: %s: %w: %s", exit.Status, ErrCorrupt, checkOutput(res.Output))
	}
	if err != nil {
		return fmt.Errorf("redis-check-rdb: %w", err)
	}
	return nil
}
