// Package etc renders redis.conf and sentinel.conf from embedded
// text/template files and writes them atomically with mode 0600 (they hold
// the password).
//
// Values that may contain spaces or odd bytes (paths, addresses, passwords)
// are written as double-quoted strings in Redis's own config syntax (see
// Quote); SplitArgs is the matching reader.
//
// Mode caveat (checked with Redis 7.0.15): when Sentinel rewrites its config
// (at start, on every learned change and on SENTINEL SET) it recreates the
// file with mode 0644 &^ umask, so the 0600 written here becomes 0644 and
// auth-pass/requirepass readable by all under the usual umask 022. Start
// redis-sentinel (and redis-server) with umask 077, or keep the config
// directory 0700.
package etc

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/template"
	"time"
)

//go:embed redis.conf.tmpl sentinel.conf.tmpl
var files embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"quote": Quote,
	"yesno": func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	},
	"ms": func(d time.Duration) int64 { return d.Milliseconds() },
}).ParseFS(files, "*.tmpl"))

// ErrInvalid is wrapped by every validation error of RedisConf and SentinelConf.
var ErrInvalid = errors.New("invalid config")

// Sentinel's limits (checked with Redis 7.0.15): it reads its times and
// quorum into C ints, so a value over 2^31-1 wraps negative and the
// sentinel refuses to start ("negative or zero time parameter", "Quorum
// must be 1 or greater"), crash looping on a file it rewrote itself.
const (
	// MaxSentinelTime is the longest down-after or failover-timeout.
	MaxSentinelTime = (1<<31 - 1) * time.Millisecond
	// MaxQuorum is the largest quorum.
	MaxQuorum = 1<<31 - 1
)

// CheckSentinelTimes reports a quorum or a time Sentinel would reject,
// wrapping ErrInvalid.
func CheckSentinelTimes(quorum int, downAfter, failoverTimeout time.Duration) error {
	switch {
	case quorum < 1 || quorum > MaxQuorum:
		return fmt.Errorf("%w: sentinel quorum %d out of range 1-%d", ErrInvalid, quorum, MaxQuorum)
	case downAfter < time.Millisecond || failoverTimeout < time.Millisecond:
		return fmt.Errorf("%w: sentinel down-after %s and failover-timeout %s must be >= 1ms",
			ErrInvalid, downAfter, failoverTimeout)
	case downAfter > MaxSentinelTime || failoverTimeout > MaxSentinelTime:
		return fmt.Errorf("%w: sentinel down-after %s and failover-timeout %s must be at most %dms",
			ErrInvalid, downAfter, failoverTimeout, MaxSentinelTime.Milliseconds())
	}
	return nil
}

// SentinelTilt is how long a sentinel stays in TILT mode, acting on
// nothing, after a stall of its host (its timer late by over 2 s): 30
// times its 1 s PING period, fixed in Sentinel.
const SentinelTilt = 30 * time.Second

// TiltBlocksFailover reports whether down-after is so short that a master
// dying while the sentinels are in TILT can never be failed over: once
// TILT ends they flag it down, but reject every replica whose link has
// been down longer than 10 x down-after (plus the time since that flag),
// which it already is, on every retry, until the master comes back.
func TiltBlocksFailover(downAfter time.Duration) bool {
	return 10*downAfter < SentinelTilt
}

// RedisConf is the input of RenderRedis.
type RedisConf struct {
	// Port is the TCP port. 0 disables TCP; then UnixSocket is required.
	Port int
	// Bind is the space-separated list of addresses to listen on; "" lets
	// Redis choose (all interfaces).
	Bind string
	// Dir is the data directory (dump.rdb, appendonlydir/). Required.
	Dir string
	// AdvertiseAddr is the IP this node announces to its master
	// (replica-announce-ip); "" announces nothing.
	AdvertiseAddr string
	// AdvertisePort is the announced port; 0 means Port.
	AdvertisePort int
	// ReplicaOf is the master as "host:port"; "" starts as a master.
	ReplicaOf string
	// Password sets requirepass and masterauth; "" disables auth.
	Password string
	// AppendOnly turns on the AOF. The node always wants true; the restore
	// flow starts redis with false and turns it on at runtime.
	AppendOnly bool
	// AOFTimestamps writes aof-timestamp-enabled yes (#TS annotations in
	// the AOF, for point-in-time recovery). The node owns this directive.
	AOFTimestamps bool
	// UnixSocket, when set, also listens on this socket (mode 0700).
	UnixSocket string
	// Extra lines are appended verbatim, one directive each.
	Extra []string
	// User are the user's directives (REDIS_CONFIG_EXTRA), written after
	// the node's, verbatim; Include are the user's files
	// (REDIS_CONFIG_INCLUDE_DIR), included last. UserSets names every
	// directive they set: the node's defaults for those (save, appendfsync,
	// ...) are left out, since `save` lines add up rather than replace.
	User, Include, UserSets []string
}

// Validate reports the first problem with c, wrapping ErrInvalid.
func (c RedisConf) Validate() error {
	switch {
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("%w: redis port %d out of range", ErrInvalid, c.Port)
	case c.Port == 0 && c.UnixSocket == "":
		return fmt.Errorf("%w: redis port 0 needs a unix socket", ErrInvalid)
	case c.Dir == "":
		return fmt.Errorf("%w: redis dir is empty", ErrInvalid)
	case c.AdvertisePort < 0 || c.AdvertisePort > 65535:
		return fmt.Errorf("%w: redis advertise port %d out of range", ErrInvalid, c.AdvertisePort)
	}
	if err := checkLine("bind", c.Bind); err != nil {
		return err
	}
	if c.ReplicaOf != "" {
		if _, _, err := splitHostPort(c.ReplicaOf); err != nil {
			return fmt.Errorf("%w: replicaof %q: %v", ErrInvalid, c.ReplicaOf, err)
		}
	}
	for _, l := range append(append(append([]string{}, c.Extra...), c.User...), c.Include...) {
		if err := checkLine("extra line", l); err != nil {
			return err
		}
	}
	return nil
}

// RenderRedis validates c and writes redis.conf to w.
func RenderRedis(w io.Writer, c RedisConf) error {
	if err := c.Validate(); err != nil {
		return err
	}
	v := struct {
		RedisConf
		AnnouncePort, ReplicaPort int
		ReplicaHost               string
		UserSet                   map[string]bool
	}{RedisConf: c, AnnouncePort: c.AdvertisePort, UserSet: map[string]bool{}}
	for _, d := range c.UserSets {
		v.UserSet[strings.ToLower(d)] = true
	}
	if v.AnnouncePort == 0 {
		v.AnnouncePort = c.Port
	}
	if c.ReplicaOf != "" {
		v.ReplicaHost, v.ReplicaPort, _ = splitHostPort(c.ReplicaOf)
	}
	if err := templates.ExecuteTemplate(w, "redis.conf.tmpl", v); err != nil {
		return fmt.Errorf("render redis.conf: %w", err)
	}
	return nil
}

// SentinelConf is the input of RenderSentinel.
type SentinelConf struct {
	Port int
	// Bind is the space-separated list of addresses to listen on; "" = all.
	Bind string
	// Dir is Sentinel's working directory. Required.
	Dir string
	// AnnounceIP/AnnouncePort are what this sentinel tells the others
	// ("" / 0: what they see).
	AnnounceIP   string
	AnnouncePort int
	// MasterName defaults to "mymaster".
	MasterName string
	// MasterAddr must be an IP: the file sets `sentinel resolve-hostnames no`.
	MasterAddr string
	MasterPort int
	Quorum     int
	// DownAfter and FailoverTimeout are written in milliseconds; both > 0.
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	// ParallelSyncs defaults to 1.
	ParallelSyncs int
	// Password is the master's password (auth-pass) and also protects this
	// sentinel (requirepass); Sentinel uses it with the other sentinels too.
	Password string
	// User are the user's directives (SENTINEL_CONFIG_EXTRA), written
	// last, verbatim.
	User []string
}

// DefaultMasterName is the master name the shell version used.
const DefaultMasterName = "mymaster"

func (c SentinelConf) withDefaults() SentinelConf {
	if c.MasterName == "" {
		c.MasterName = DefaultMasterName
	}
	if c.ParallelSyncs == 0 {
		c.ParallelSyncs = 1
	}
	return c
}

// Validate reports the first problem with c (after defaults), wrapping ErrInvalid.
func (c SentinelConf) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Port <= 0 || c.Port > 65535:
		return fmt.Errorf("%w: sentinel port %d out of range", ErrInvalid, c.Port)
	case c.Dir == "":
		return fmt.Errorf("%w: sentinel dir is empty", ErrInvalid)
	case !isIP(c.MasterAddr):
		return fmt.Errorf("%w: sentinel master address %q is not an IP", ErrInvalid, c.MasterAddr)
	case c.AnnounceIP != "" && !isIP(c.AnnounceIP):
		return fmt.Errorf("%w: sentinel announce-ip %q is not an IP", ErrInvalid, c.AnnounceIP)
	case c.MasterPort <= 0 || c.MasterPort > 65535:
		return fmt.Errorf("%w: sentinel master port %d out of range", ErrInvalid, c.MasterPort)
	case c.AnnouncePort < 0 || c.AnnouncePort > 65535:
		return fmt.Errorf("%w: sentinel announce port %d out of range", ErrInvalid, c.AnnouncePort)
	case c.ParallelSyncs < 1:
		return fmt.Errorf("%w: sentinel parallel-syncs %d < 1", ErrInvalid, c.ParallelSyncs)
	case !isName(c.MasterName):
		return fmt.Errorf("%w: sentinel master name %q (want [A-Za-z0-9._-]+)", ErrInvalid, c.MasterName)
	}
	if err := CheckSentinelTimes(c.Quorum, c.DownAfter, c.FailoverTimeout); err != nil {
		return err
	}
	for _, l := range c.User {
		if err := checkLine("extra line", l); err != nil {
			return err
		}
	}
	return checkLine("bind", c.Bind)
}

// RenderSentinel validates c and writes sentinel.conf to w.
func RenderSentinel(w io.Writer, c SentinelConf) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := templates.ExecuteTemplate(w, "sentinel.conf.tmpl", c.withDefaults()); err != nil {
		return fmt.Errorf("render sentinel.conf: %w", err)
	}
	return nil
}

func checkLine(what, s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Errorf("%w: %s %q contains a line break", ErrInvalid, what, s)
	}
	return nil
}

func splitHostPort(hp string) (string, int, error) {
	i := strings.LastIndexByte(hp, ':')
	if i <= 0 {
		return "", 0, errors.New("want host:port")
	}
	host, ps := strings.Trim(hp[:i], "[]"), hp[i+1:]
	port, err := strconv.Atoi(ps)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if !isName(host) && !isIP(host) {
		return "", 0, fmt.Errorf("bad host %q", host)
	}
	return host, port, nil
}
