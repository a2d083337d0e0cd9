// Package config is the one place that reads redis-autopilot's
// environment and command-line flags. Every setting lives in one table
// (settings.go) that drives reading the environment, parsing flags and
// the help text, so nothing can be documented but not read or read but
// not documented.
//
// Order: defaults -> environment -> flags -> Validate. An environment
// variable set to the empty string counts as unset. Secrets
// (REDIS_PASSWORD, MANTA_PRIVATE_KEY, CONSUL_HTTP_TOKEN,
// CONSUL_LOCAL_CONFIG, and any setting marked Secret) are read from the
// environment or from the file their *_FILE variable names, never from
// flags (argv is world-readable); they never appear in error messages,
// and Config.Secrets lists their values for the log redactor.
package config

import (
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/hashicorp/consul/api"
)

// Config is redis-autopilot's validated configuration. Load fills it;
// code that builds one by hand should call Validate.
type Config struct {
	// Node

	// AdvertiseAddr (ADVERTISE_ADDR) is the IP other nodes and clients use
	// to reach this node; empty means detect it.
	AdvertiseAddr string
	// BindAddr (BIND_ADDR) is the IP redis and sentinel listen on.
	BindAddr string
	// RedisPort (REDIS_PORT) and SentinelPort (SENTINEL_PORT) are the
	// local redis-server and redis-sentinel ports.
	RedisPort, SentinelPort int
	// RedisDataDir (REDIS_DATA_DIR) holds dump.rdb and appendonlydir/.
	RedisDataDir string
	// RedisConfigDir (REDIS_CONFIG_DIR) holds the generated redis.conf
	// and sentinel.conf.
	RedisConfigDir string
	// RedisPassword (REDIS_PASSWORD) sets requirepass, masterauth and
	// sentinel auth-pass; empty means no authentication. Secret.
	RedisPassword string
	// RedisUser (REDIS_USER) is the user redis-server and redis-sentinel
	// run as; empty means redis when PID 1 is root and that user exists
	// (see cmd/redis-autopilot), "root" keeps them root. Load checks that
	// the user exists.
	RedisUser string
	// PollInterval (POLL_INTERVAL) is the health/reconcile tick.
	PollInterval time.Duration
	// CheckTTL (CHECK_TTL) is the Consul TTL check; it exceeds PollInterval.
	CheckTTL time.Duration
	// MasterWaitTimeout (MASTER_WAIT_TIMEOUT) bounds how long a starting
	// node waits for a master to appear.
	MasterWaitTimeout time.Duration
	// RedisStopGrace (REDIS_STOP_GRACE) is how long redis gets for its
	// final save before SIGKILL.
	RedisStopGrace time.Duration
	// RedisFlavor (REDIS_FLAVOR) is "redis", "valkey", or "" to use
	// whichever is installed (redis-server first, then valkey-server).
	RedisFlavor string
	// RedisConfigExtra (REDIS_CONFIG_EXTRA) are the user's redis.conf
	// directives, one a line, written after the node's; none is one the
	// node owns.
	RedisConfigExtra []string
	// RedisIncludeDir (REDIS_CONFIG_INCLUDE_DIR) holds the user's *.conf
	// files, RedisIncludeFiles, included after the generated config.
	RedisIncludeDir   string
	RedisIncludeFiles []string
	// RedisUserSets names every directive RedisConfigExtra and
	// RedisIncludeFiles set.
	RedisUserSets []string
	// SentinelConfigExtra (SENTINEL_CONFIG_EXTRA) are the user's
	// sentinel.conf directives, one a line.
	SentinelConfigExtra []string
	noIncludeDir        bool

	// Consul

	// ConsulJoin (CONSUL) lists the Consul servers to join; non-empty
	// means the supervisor runs a local Consul agent as a coprocess.
	ConsulJoin []string
	// ConsulLocalConfig (CONSUL_LOCAL_CONFIG) is a JSON object written
	// into the agent's config dir; it may hold tokens, so it is secret.
	ConsulLocalConfig string
	// ConsulDataDir (CONSUL_DATA_DIR) and ConsulConfigDir
	// (CONSUL_CONFIG_DIR) are the local agent's directories.
	ConsulDataDir, ConsulConfigDir string
	// ConsulLeaderTimeout (CONSUL_LEADER_TIMEOUT) bounds waiting for a
	// Consul leader at start.
	ConsulLeaderTimeout time.Duration
	// Consul is a ready client configuration built from CONSUL_HTTP_ADDR,
	// CONSUL_HTTP_TOKEN(_FILE), CONSUL_HTTP_SSL(_VERIFY), CONSUL_CACERT,
	// CONSUL_CLIENT_CERT/KEY and CONSUL_TLS_SERVER_NAME, with its
	// HttpClient already built, for api.NewClient. (api.NewClient still
	// fills fields left empty here, and the token, from the process
	// environment; in production that is the same environment.)
	Consul *api.Config

	// Sentinel; the Consul keys service/redis-sentinel/quorum and
	// service/redis-sentinel/failover-timeout override these at start.

	// SentinelQuorum (SENTINEL_QUORUM) is the sentinels needed to agree
	// that the master is down.
	SentinelQuorum int
	// SentinelDownAfter (SENTINEL_DOWN_AFTER) is down-after-milliseconds.
	SentinelDownAfter time.Duration
	// SentinelFailoverTimeout (SENTINEL_FAILOVER_TIMEOUT) is failover-timeout.
	SentinelFailoverTimeout time.Duration
	// SentinelForgetAfter (SENTINEL_FORGET_AFTER) is how long a replica
	// or sentinel must have had no live registration in Consul before the
	// sentinels forget it, and a dead agent's registrations are removed.
	SentinelForgetAfter time.Duration

	// Backups

	// BackupDir (BACKUP_DIR) selects the local directory store; empty
	// means Manta if configured, else no backups.
	BackupDir string
	// BackupTTL (BACKUP_TTL) is how old the newest backup may get before
	// the cluster takes another.
	BackupTTL time.Duration
	// BackupInterval (BACKUP_INTERVAL) is how often the cluster-wide
	// backup task checks whether a backup is due.
	BackupInterval time.Duration
	// BackupKeep (BACKUP_KEEP) is how many backups to keep; 0 keeps all.
	BackupKeep int
	// BackupCompression (BACKUP_COMPRESSION) is CompressionZstd or
	// CompressionGzip.
	BackupCompression string
	// BackupStallTimeout (BACKUP_STALL_TIMEOUT) bounds how long a
	// backup's upload or verification read-back may get no progress from
	// the store before it is abandoned.
	BackupStallTimeout time.Duration
	// BackupEncryption (BACKUP_ENCRYPTION_KEY or _FILE, with
	// BACKUP_ENCRYPTION_RECIPIENTS added by Validate) encrypts new backups
	// and decrypts encrypted ones; nil means backups are not encrypted.
	// Secret: it prints only its public keys.
	BackupEncryption *crypt.Keys
	// BackupEncryptionRecipients (BACKUP_ENCRYPTION_RECIPIENTS) are the
	// extra age recipients (age1...) new backups are encrypted for.
	BackupEncryptionRecipients []string
	// RestoreAllowEmpty (RESTORE_ALLOW_EMPTY) lets a new master start
	// empty when no backup can be restored, instead of failing.
	RestoreAllowEmpty bool
	// PITR (PITR) ships the AOF for point-in-time recovery when a backup
	// store is configured; PITRInterval (PITR_INTERVAL) is how often.
	PITR         bool
	PITRInterval time.Duration

	// S3 (S3_URL, S3_*, AWS_SECRET_ACCESS_KEY_FILE): see config/s3.go.
	S3 S3Config

	// Manta (all of MantaUser, MantaKeyID, MantaKey set, or none)

	// MantaURL (MANTA_URL) is the Manta endpoint, without trailing slash.
	MantaURL string
	// MantaUser (MANTA_USER) is the account; MantaSubuser (MANTA_SUBUSER)
	// and MantaRole (MANTA_ROLE) are optional.
	MantaUser, MantaSubuser, MantaRole string
	// MantaKeyID (MANTA_KEY_ID) is the key's fingerprint, normalised:
	// lowercase MD5 colon hex without "MD5:", or "SHA256:<base64>".
	// Validate checks it matches MantaKey.
	MantaKeyID string
	// MantaKeyMD5 is MantaKey's MD5 fingerprint in colon hex.
	MantaKeyMD5 string
	// MantaKey is the parsed MANTA_PRIVATE_KEY, an *rsa.PrivateKey or
	// *ecdsa.PrivateKey (PKCS#1, PKCS#8, SEC 1 or OpenSSH PEM,
	// unencrypted). The key text itself is not kept.
	MantaKey crypto.Signer
	// MantaBucket (MANTA_BUCKET) is the full Manta directory for backups,
	// /<MANTA_USER>/stor/triton-redis unless set.
	MantaBucket string

	// Secrets are the values of every secret setting (and the forms they
	// may be written in), for logging.Redactor. Never print them.
	Secrets []string

	// HTTPAddr (HTTP_ADDR) is the status/metrics listener; empty is off.
	HTTPAddr string

	// LogLevel (LOG_LEVEL) is TRACE, DEBUG, INFO, WARN or ERROR.
	LogLevel string
	// LogJSON (LOG_FORMAT=json) selects JSON log lines.
	LogJSON bool

	// Supervisor: a child that fails RestartLimit (RESTART_LIMIT) times
	// in a row, each run shorter than RestartMinUptime
	// (RESTART_MIN_UPTIME), is in a crash loop; restarts back off up to
	// RestartBackoffMax (RESTART_BACKOFF_MAX).
	RestartLimit      int
	RestartMinUptime  time.Duration
	RestartBackoffMax time.Duration
}

// Backup compression names.
const (
	CompressionZstd = "zstd"
	CompressionGzip = "gzip"
)

// MantaEnabled reports whether backups go to Manta.
func (c *Config) MantaEnabled() bool { return c.MantaUser != "" }

// Error is a configuration error naming the variable (or flag) at fault.
// Value is empty for secrets, which are never printed.
type Error struct {
	Var    string // "REDIS_PORT", or "--redis-port" when given as a flag
	Value  string // the offending value; empty for secrets
	Reason string // what is wrong, in words
	Err    error  // underlying error, if any
}

// Error returns one line: "REDIS_PORT=70000: must be a port number 1-65535".
func (e *Error) Error() string {
	switch {
	case e.Var == "":
		return e.Reason
	case e.Value == "":
		return e.Var + ": " + e.Reason
	}
	return fmt.Sprintf("%s=%s: %s", e.Var, e.Value, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// Load builds the configuration: defaults, then lookupEnv (normally
// os.LookupEnv), then flags in args (--redis-port 7000, --redis-port=7000;
// names are the variable names lowercased with dashes), then Validate.
// It returns flag.ErrHelp for -h/--help, and otherwise only *Error.
func Load(args []string, lookupEnv func(string) (string, bool)) (*Config, error) {
	vals := make(map[string]string, len(settings))
	from := make(map[string]string, len(settings))
	for _, s := range settings {
		vals[s.Env], from[s.Env] = s.Default, s.Env
		if s.Secret {
			v, src, err := lookupSecret(s.Env, lookupEnv)
			if err != nil {
				return nil, err
			}
			if v != "" {
				vals[s.Env], from[s.Env] = v, src
			}
		} else if v, ok := lookupEnv(s.Env); ok && v != "" {
			vals[s.Env] = v
		}
	}
	if err := parseFlags(args, vals, from); err != nil {
		return nil, err
	}
	c := &Config{Consul: &api.Config{}}
	for _, s := range settings {
		v := vals[s.Env]
		if v == "" {
			continue
		}
		if err := s.Set(c, v); err != nil {
			e := &Error{Var: from[s.Env], Reason: err.Error(), Err: err}
			if !s.Secret && !s.Lines {
				e.Value = v
			}
			return nil, e
		}
		if s.Secret {
			c.Secrets = append(c.Secrets, secretForms(v)...)
		}
	}
	if c.MantaEnabled() && c.MantaBucket == "" {
		c.MantaBucket = "/" + c.MantaUser + "/stor/triton-redis"
	}
	if err := c.loadIncludeDir(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := buildConsulClient(c.Consul); err != nil {
		return nil, err
	}
	return c, nil
}

// parseFlags applies flags in args over vals, recording in from which
// flag set each value.
func parseFlags(args []string, vals, from map[string]string) error {
	fs := flag.NewFlagSet("redis-autopilot", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for i := range settings {
		s := &settings[i]
		if !s.Secret {
			fs.Var(&flagValue{s: s, vals: vals, from: from}, s.Flag(), s.Help)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return &Error{Reason: err.Error(), Err: err}
	}
	if fs.NArg() > 0 {
		return &Error{Reason: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// flagValue records a flag's raw value; parsing happens with the
// environment's values, in table order.
type flagValue struct {
	s          *setting
	vals, from map[string]string
}

func (f *flagValue) String() string { return "" }

func (f *flagValue) Set(v string) error {
	if v == "" { // as for the environment: empty means the default
		v = f.s.Default
	}
	f.vals[f.s.Env], f.from[f.s.Env] = v, "--"+f.s.Flag()
	return nil
}

func (f *flagValue) IsBoolFlag() bool { return f.s.Bool }

// flagName turns an environment variable name into its flag name:
// REDIS_PORT -> redis-port.
func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}
