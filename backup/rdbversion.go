package backup

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// ErrIncompatible: the backup is sound but written in an RDB version this
// node's server cannot read (a backup taken by a newer Redis or Valkey).
// Restore never falls back to an older backup for it: that would lose the
// newer data without anyone asking; the fix is a newer server, or naming
// an older backup.
var ErrIncompatible = errors.New("backup needs a newer server")

// rdbNeeds says which servers read each RDB version, for the refusal.
// Checked here: Redis 7.0.15 writes and reads up to 10, Valkey 8.1.1
// writes 11 and refuses 12, Redis 8.0.2 writes 12 and reads 10 and 11.
// Redis 7.2 introduced 11 and Redis 7.4 introduced 12 (release notes).
var rdbNeeds = map[int]string{
	10: "Redis 7.0 or Valkey 7.2, or newer",
	11: "Redis 7.2 or Valkey 7.2, or newer",
	12: "Redis 7.4 or newer (Valkey up to 8.1 reads up to RDB version 11)",
}

// cannotHandle is redis-check-rdb's (and valkey-check-rdb's) message for
// an RDB version it does not know.
var cannotHandle = regexp.MustCompile(`Can't handle RDB format version ([0-9]+)`)

// incompatible returns an error wrapping ErrIncompatible when the checker's
// output says the RDB version is too new for it, naming the version, the
// servers that read it and the local server; otherwise nil.
func incompatible(ctx context.Context, o RestoreOptions, output []byte) error {
	m := cannotHandle.FindSubmatch(output)
	if m == nil {
		return nil
	}
	n, _ := strconv.Atoi(string(m[1]))
	needs := rdbNeeds[n]
	if needs == "" {
		needs = "a newer Redis or Valkey"
	}
	return fmt.Errorf("%w: RDB version %d needs %s; this node runs %s: run an image with a newer server, "+
		"or restore an older backup by name (redis-autopilot backup list)", ErrIncompatible, n, needs, localServer(ctx, o))
}

// localServer is "Redis 7.0.15" from `redis-server --version`, or the
// program's path when that fails.
func localServer(ctx context.Context, o RestoreOptions) string {
	res, err := o.Sup.Run(ctx, supervisor.Command{Name: "server-version", Path: o.RedisServerPath,
		Args: []string{"--version"}, CaptureLimit: 1 << 10})
	if err != nil {
		return o.RedisServerPath
	}
	f, v, err := redisnode.ParseVersionOutput(string(res.Output))
	if err != nil {
		return o.RedisServerPath
	}
	return f.Title() + " " + v
}
