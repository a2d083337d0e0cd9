package etc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The user's own directives (REDIS_CONFIG_EXTRA, the *.conf files of
// REDIS_CONFIG_INCLUDE_DIR, SENTINEL_CONFIG_EXTRA) go into the generated
// files after the node's own. Directives the node owns are refused, with
// the reason: setting them would break what the node promises (the
// address it registers, the data backups read, the master Sentinel
// chose, the fence). Whether the rest are valid is for the server itself
// to say (see lifecycle.CheckUserConfig): its versions differ.

// redisOwned are the redis.conf directives the node owns, and why.
var redisOwned = map[string]string{
	"port":                  "the node sets it from REDIS_PORT",
	"bind":                  "the node sets it from BIND_ADDR",
	"dir":                   "the node sets it from REDIS_DATA_DIR; backups and restores read that directory",
	"dbfilename":            "backups and restores read dump.rdb in REDIS_DATA_DIR",
	"appendfilename":        "restores and data checks read appendonlydir/appendonly.aof*",
	"appenddirname":         "restores and data checks read appendonlydir/",
	"appendonly":            "the node runs redis with the AOF on (a restore turns it on after loading)",
	"aof-timestamp-enabled": "the node decides it",
	"replicaof":             "the node and Sentinel decide which node is master",
	"slaveof":               "the node and Sentinel decide which node is master",
	"requirepass":           "the node sets it from REDIS_PASSWORD",
	"masterauth":            "the node sets it from REDIS_PASSWORD",
	"masteruser":            "the node authenticates replicas with REDIS_PASSWORD as the default user",
	"replica-announce-ip":   "the node sets it from ADVERTISE_ADDR",
	"replica-announce-port": "the node sets it from REDIS_PORT",
	"slave-announce-ip":     "the node sets it from ADVERTISE_ADDR",
	"slave-announce-port":   "the node sets it from REDIS_PORT",
	"min-replicas-to-write": "the node sets it to fence a master being failed over",
	"min-slaves-to-write":   "the node sets it to fence a master being failed over",
	"min-replicas-max-lag":  "the node sets it to fence a master being failed over",
	"min-slaves-max-lag":    "the node sets it to fence a master being failed over",
	"daemonize":             "redis runs in the foreground under the node",
	"supervised":            "redis runs in the foreground under the node",
	"pidfile":               "redis runs in the foreground under the node",
	"logfile":               "the node logs redis's output on its own",
	"protected-mode":        "replicas and sentinels on other hosts must reach redis; set REDIS_PASSWORD instead",
	"rename-command":        "the node and Sentinel send CONFIG, INFO, REPLICAOF, FAILOVER and SHUTDOWN by name",
	"cluster-enabled":       "redis-autopilot runs Sentinel replication, not Redis Cluster",
	"include":               "put the file in REDIS_CONFIG_INCLUDE_DIR instead; its files are checked like these lines",
	"unixsocket":            "the node starts private redis-servers on sockets of their own (restore, the start-up check)",
}

// sentinelOwned are the sentinel.conf directives the node owns, and why.
// Sentinel's own directives are keyed "sentinel <name>".
var sentinelOwned = map[string]string{
	"port":                             "the node sets it from SENTINEL_PORT",
	"bind":                             "the node sets it from BIND_ADDR",
	"dir":                              "the node sets it from REDIS_CONFIG_DIR",
	"daemonize":                        "sentinel runs in the foreground under the node",
	"supervised":                       "sentinel runs in the foreground under the node",
	"pidfile":                          "sentinel runs in the foreground under the node",
	"logfile":                          "the node logs sentinel's output on its own",
	"protected-mode":                   "sentinels on other hosts must reach this one; set REDIS_PASSWORD instead",
	"requirepass":                      "the node sets it from REDIS_PASSWORD",
	"include":                          "the node regenerates sentinel.conf; give the directives in SENTINEL_CONFIG_EXTRA",
	"sentinel monitor":                 "the node names the master it found in Consul",
	"sentinel down-after-milliseconds": "the node sets it from SENTINEL_DOWN_AFTER",
	"sentinel failover-timeout":        "the node sets it from SENTINEL_FAILOVER_TIMEOUT (or Consul's key)",
	"sentinel parallel-syncs":          "the node sets it",
	"sentinel auth-pass":               "the node sets it from REDIS_PASSWORD",
	"sentinel auth-user":               "the node authenticates with REDIS_PASSWORD as the default user",
	"sentinel sentinel-user":           "sentinels authenticate to each other with REDIS_PASSWORD",
	"sentinel sentinel-pass":           "sentinels authenticate to each other with REDIS_PASSWORD",
	"sentinel announce-ip":             "the node sets it from ADVERTISE_ADDR",
	"sentinel announce-port":           "the node sets it from SENTINEL_PORT",
	"sentinel resolve-hostnames":       "the node registers IP addresses",
	"sentinel announce-hostnames":      "the node registers IP addresses",
	"sentinel rename-command":          "the node and Sentinel send CONFIG, INFO, REPLICAOF and FAILOVER by name",
	"sentinel myid":                    "Sentinel's own state",
	"sentinel current-epoch":           "Sentinel's own state",
	"sentinel config-epoch":            "Sentinel's own state",
	"sentinel leader-epoch":            "Sentinel's own state",
	"sentinel known-replica":           "Sentinel's own state",
	"sentinel known-slave":             "Sentinel's own state",
	"sentinel known-sentinel":          "Sentinel's own state",
}

// OwnedError says a user's directive is one the node owns.
type OwnedError struct {
	Where     string // "REDIS_CONFIG_EXTRA line 2", "/etc/redis/conf.d/a.conf:3"
	Directive string // "port", "sentinel monitor"
	Why       string
}

func (e *OwnedError) Error() string {
	return fmt.Sprintf("%s: %q is set by redis-autopilot and cannot be overridden: %s", e.Where, e.Directive, e.Why)
}

// Directive is one parsed line of the user's: its name (lowercase; for
// sentinel's, "sentinel <name>") and where it came from.
type Directive struct {
	Name, Where string
}

// ParseUserLines splits text (one directive a line; blank lines and #
// comments skipped) into directives with Redis's own quoting rules.
// where names the source in errors ("REDIS_CONFIG_EXTRA", or "" when the
// caller names it); a file's lines are named file:line.
func ParseUserLines(where, text string) ([]Directive, []string, error) {
	var ds []Directive
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		at := strings.TrimSpace(fmt.Sprintf("%s line %d", where, n))
		if strings.HasPrefix(where, "/") {
			at = fmt.Sprintf("%s:%d", where, n)
		}
		args, err := SplitArgs(line)
		if err != nil || len(args) == 0 {
			return nil, nil, fmt.Errorf("%s: %w", at, ErrUnbalancedQuotes)
		}
		name := strings.ToLower(args[0])
		if name == "sentinel" && len(args) > 1 {
			name += " " + strings.ToLower(args[1])
		}
		ds = append(ds, Directive{Name: name, Where: at})
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", where, err)
	}
	return ds, lines, nil
}

// CheckRedisOwned returns an *OwnedError for the first directive the node
// owns in redis.conf.
func CheckRedisOwned(ds []Directive) error { return checkOwned(redisOwned, ds) }

// CheckSentinelOwned returns an *OwnedError for the first directive the
// node owns in sentinel.conf.
func CheckSentinelOwned(ds []Directive) error { return checkOwned(sentinelOwned, ds) }

func checkOwned(owned map[string]string, ds []Directive) error {
	for _, d := range ds {
		if why := owned[d.Name]; why != "" {
			return &OwnedError{Where: d.Where, Directive: d.Name, Why: why}
		}
	}
	return nil
}

// IncludeFiles lists dir's *.conf files in name order, and what each
// sets. A missing dir is no files.
func IncludeFiles(dir string) (files []string, ds []Directive, err error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(matches)
	for _, f := range matches {
		st, err := os.Stat(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", f, err)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", f, err)
		}
		fds, _, err := ParseUserLines(f, string(b))
		if err != nil {
			return nil, nil, err
		}
		files, ds = append(files, f), append(ds, fds...)
	}
	return files, ds, nil
}
