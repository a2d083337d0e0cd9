package redisnode

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Flavor is the server family a node runs: Redis or Valkey. They speak the
// same protocol and replicate the same way; their programs are named
// redis-* and valkey-*, and Valkey reports its own version in INFO as
// valkey_version (its redis_version is the Redis version it is compatible
// with, 7.2.4 for Valkey 8).
type Flavor string

// Flavours. FlavorAuto finds whichever is installed, Redis first.
const (
	FlavorAuto   Flavor = ""
	FlavorRedis  Flavor = "redis"
	FlavorValkey Flavor = "valkey"
)

// Flavors lists the flavours in the order FlavorAuto tries them.
var Flavors = []Flavor{FlavorRedis, FlavorValkey}

// Binaries are the programs of one flavour, as absolute paths.
type Binaries struct {
	Flavor   Flavor
	Server   string // redis-server / valkey-server
	Sentinel string // redis-sentinel / valkey-sentinel
	CheckRDB string // redis-check-rdb / valkey-check-rdb (verifies backups)
	CheckAOF string // redis-check-aof / valkey-check-aof
}

// Program is the name of one of f's programs: Program("server") is
// "redis-server" or "valkey-server".
func (f Flavor) Program(tool string) string { return string(f) + "-" + tool }

// ErrNoServer is wrapped by FindBinaries when the flavour's programs are
// not on PATH.
var ErrNoServer = errors.New("server programs not found")

// FindBinaries finds flavour f's programs with lookPath (exec.LookPath).
// FlavorAuto takes the first flavour of Flavors whose server is found.
// The server, sentinel and redis-check-rdb are required (Debian's
// redis-server and valkey-server packages bring all three).
func FindBinaries(f Flavor, lookPath func(string) (string, error)) (Binaries, error) {
	if f == FlavorAuto {
		for _, try := range Flavors {
			if _, err := lookPath(try.Program("server")); err == nil {
				return FindBinaries(try, lookPath)
			}
		}
		return Binaries{}, fmt.Errorf("%w: neither redis-server nor valkey-server is on PATH: "+
			"apt-get install -y redis-server redis-sentinel redis-tools, or valkey-server valkey-sentinel valkey-tools", ErrNoServer)
	}
	b := Binaries{Flavor: f}
	for _, p := range []struct {
		tool string
		dst  *string
	}{{"server", &b.Server}, {"sentinel", &b.Sentinel}, {"check-rdb", &b.CheckRDB}, {"check-aof", &b.CheckAOF}} {
		path, err := lookPath(f.Program(p.tool))
		if err != nil {
			return Binaries{}, fmt.Errorf("%w: %s is not on PATH: apt-get install -y %s-server %s-sentinel %s-tools",
				ErrNoServer, f.Program(p.tool), f, f, f)
		}
		*p.dst = path
	}
	return b, nil
}

// ServerVersion is the server's own name and version from INFO server:
// ("valkey", "8.1.1") where valkey_version is set, else ("redis",
// redis_version).
func (i Info) ServerVersion() (Flavor, string) {
	if v := i["valkey_version"]; v != "" {
		return FlavorValkey, v
	}
	return FlavorRedis, i["redis_version"]
}

// Server is ServerVersion as one word pair for people: "Valkey 8.1.1".
func (i Info) Server() string {
	f, v := i.ServerVersion()
	return f.Title() + " " + v
}

// Title is the flavour's proper name: "Redis" or "Valkey".
func (f Flavor) Title() string {
	if f == "" {
		return "Redis"
	}
	return strings.ToUpper(string(f[:1])) + string(f[1:])
}

var versionLine = regexp.MustCompile(`^(Redis|Valkey) server v=([0-9][0-9.]*)`)

// ParseVersionOutput reads `redis-server --version` / `valkey-server
// --version` ("Valkey server v=8.1.1 sha=..."): the flavour and version.
func ParseVersionOutput(out string) (Flavor, string, error) {
	m := versionLine.FindStringSubmatch(strings.TrimSpace(out))
	if m == nil {
		return "", "", fmt.Errorf("unrecognised server --version output %q", firstLine(out))
	}
	return Flavor(strings.ToLower(m[1])), m[2], nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// ErrPasswordRewrite: the password would not survive the server's CONFIG
// REWRITE.
var ErrPasswordRewrite = errors.New("password does not survive CONFIG REWRITE")

// PasswordRewriteProblem reports a password flavour f's CONFIG REWRITE
// (which Sentinel has every node run at each failover) would write so that
// the server cannot read its redis.conf back: Valkey 8.1.1 writes
// requirepass and masterauth without escaping `"` and `\` (checked;
// Redis 7.0 and 8.0 escape them), so a redis-server restarted from the
// rewritten file fails on "Unbalanced quotes" or reads another password.
func PasswordRewriteProblem(f Flavor, password string) error {
	if f == FlavorValkey && strings.ContainsAny(password, `"\`) {
		return fmt.Errorf("%w: Valkey writes a password holding \" or \\ unescaped into redis.conf at every failover "+
			"(CONFIG REWRITE) and then cannot restart from it: choose a REDIS_PASSWORD without them", ErrPasswordRewrite)
	}
	return nil
}
