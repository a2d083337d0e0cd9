package pitr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/autopilotpattern/redis-autopilot/internal/fsync"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/hashicorp/go-hclog"
)

// Errors of Restore.
var (
	// ErrDataExists: the data directory already holds data; nothing was
	// touched.
	ErrDataExists = errors.New("data directory already holds data")
	// ErrCheck: redis-check-aof refused the restored AOF.
	ErrCheck = errors.New("redis-check-aof refused the restored AOF")
	// ErrInvalidOptions: RestoreOptions lack something required.
	ErrInvalidOptions = errors.New("invalid point-in-time restore options")
)

// Names inside the restored appendonlydir (the node's appendfilename and
// appenddirname, etc/redis.conf.tmpl).
const (
	AOFDir        = "appendonlydir"
	AOFFilename   = "appendonly.aof"
	stagingPrefix = ".pitr-restore-"
)

// Source reads a chain's objects.
type Source interface {
	OpenBase(ctx context.Context, chain ChainInfo) (io.ReadCloser, error)
	OpenSegment(ctx context.Context, s Segment) (io.ReadCloser, error)
}

// RestoreOptions say where and with what a Plan is restored.
type RestoreOptions struct {
	Source Source
	// DataDir must hold no data (redisnode.HasData). Required.
	DataDir string
	// Sup runs redis-check-aof (PID 1 reaps every child). Required.
	Sup *supervisor.Supervisor
	// CheckAOFPath is redis-check-aof; default from PATH.
	CheckAOFPath string
	Log          hclog.Logger
}

func (o *RestoreOptions) validate() error {
	switch {
	case o.Source == nil || o.Sup == nil || o.DataDir == "":
		return fmt.Errorf("%w: Source, Sup and DataDir are required", ErrInvalidOptions)
	}
	if o.CheckAOFPath == "" {
		o.CheckAOFPath = "redis-check-aof"
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	return nil
}

// Restore builds appendonlydir/ from the plan's base and segments in a
// staging directory inside DataDir, truncates it at the plan's target
// second with redis-check-aof --truncate-to-timestamp (which keeps every
// command whose #TS is at or before it, transactions whole, and checks
// what it keeps in the same pass; a restore to Latest is checked without
// truncating), and only then renames it into DataDir. It
// refuses a DataDir that holds data; on error DataDir is left as it was.
func Restore(ctx context.Context, o RestoreOptions, p Plan) error {
	if err := o.validate(); err != nil {
		return err
	}
	if has, err := redisnode.HasData(o.DataDir); err != nil || has {
		if err == nil {
			err = fmt.Errorf("%w: %s (point-in-time restore only fills an empty data directory; move the data away first)", ErrDataExists, o.DataDir)
		}
		return err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("make the data directory: %w", err)
	}
	staging, err := os.MkdirTemp(o.DataDir, stagingPrefix)
	if err != nil {
		return fmt.Errorf("staging directory: %w", err)
	}
	defer os.RemoveAll(staging)
	dir := filepath.Join(staging, AOFDir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("staging directory: %w", err)
	}
	manifest, err := writeFiles(ctx, o, p, dir)
	if err != nil {
		return err
	}
	// One pass: with --truncate-to-timestamp redis-check-aof parses every
	// file up to the cut, truncates there and says "All AOF files and
	// manifest are valid" only when what it kept is valid, so a second,
	// plain check would read the kept bytes again for nothing (it cost
	// about a third of a restore's time).
	args := []string{manifest}
	if p.Target != Latest {
		args = []string{"--truncate-to-timestamp", strconv.FormatInt(p.Target, 10), manifest}
	}
	if err := checkAOF(ctx, o, args...); err != nil {
		return err
	}
	if err := fsync.Dir(dir); err != nil {
		return err
	}
	if err := os.Rename(dir, filepath.Join(o.DataDir, AOFDir)); err != nil {
		return fmt.Errorf("move the AOF into place: %w", err)
	}
	o.Log.Info("restored to a point in time", "chain", p.Chain.Info.ID, "segments", len(p.Segments), "target", targetString(p.Target))
	return fsync.Dir(o.DataDir)
}

func targetString(ts int64) string {
	if ts == Latest {
		return "latest"
	}
	return unixString(ts)
}

// writeFiles writes the base, one incr file holding the segments one
// after the other, and a manifest naming the two; it returns the
// manifest's path.
func writeFiles(ctx context.Context, o RestoreOptions, p Plan, dir string) (string, error) {
	info := p.Chain.Info
	ext := ".rdb"
	if info.Base == "base.aof" {
		ext = ".aof"
	}
	base := ManifestFile{Name: AOFFilename + ".1.base" + ext, Seq: 1, Type: TypeBase}
	incr := ManifestFile{Name: AOFFilename + ".1.incr.aof", Seq: 1, Type: TypeIncr}
	if err := writeBase(ctx, o, info, filepath.Join(dir, base.Name)); err != nil {
		return "", err
	}
	err := writeFile(filepath.Join(dir, incr.Name), func(w io.Writer) error {
		if len(p.Segments) == 0 {
			return nil
		}
		_, err := Merge(ctx, p.Segments, o.Source.OpenSegment, w)
		return err
	})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, AOFFilename+".manifest")
	m := Manifest{Files: []ManifestFile{base, incr}}
	return path, writeFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, m.String())
		return err
	})
}

func writeBase(ctx context.Context, o RestoreOptions, info ChainInfo, path string) error {
	rc, err := o.Source.OpenBase(ctx, info)
	if err != nil {
		return fmt.Errorf("open the base of chain %s: %w", info.ID, err)
	}
	defer rc.Close()
	h := sha256.New()
	var n int64
	err = writeFile(path, func(w io.Writer) error {
		var cerr error
		n, cerr = io.Copy(io.MultiWriter(w, h), io.LimitReader(rc, info.BaseSize+1))
		return cerr
	})
	if err != nil {
		return fmt.Errorf("read the base of chain %s: %w", info.ID, err)
	}
	if n != info.BaseSize || hex.EncodeToString(h.Sum(nil)) != info.BaseSHA256 {
		return fmt.Errorf("base of chain %s: %w (%d bytes, %d expected, or another sha256); no time in this chain can be reached",
			info.ID, ErrIntegrity, n, info.BaseSize)
	}
	return nil
}

// writeFile creates path, fills it and syncs it.
func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// checkAOF runs redis-check-aof with args; it must exit 0 and say that
// every file is valid.
func checkAOF(ctx context.Context, o RestoreOptions, args ...string) error {
	res, err := o.Sup.Run(ctx, supervisor.Command{Name: "redis-check-aof", Path: o.CheckAOFPath,
		Args: args, CaptureLimit: 16 << 10})
	out := string(res.Output)
	var exit *supervisor.ExitError
	switch {
	case errors.As(err, &exit):
		return fmt.Errorf("redis-check-aof %s: %s: %w: %s", strings.Join(args[:len(args)-1], " "), exit.Status, ErrCheck, lastLines(out, 4))
	case err != nil:
		return fmt.Errorf("redis-check-aof: %w", err)
	case !strings.Contains(out, "All AOF files and manifest are valid"):
		return fmt.Errorf("redis-check-aof %s: %w: %s", strings.Join(args[:len(args)-1], " "), ErrCheck, lastLines(out, 4))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
