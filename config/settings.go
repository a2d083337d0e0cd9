package config

import (
	"errors"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/logging"
)

// setting is one row of the table: an environment variable, its flag
// (Flag()), default, help and how to parse and store it.
type setting struct {
	Env     string
	Group   string
	Default string // "" means unset
	Help    string
	Secret  bool // environment or Env+FileSuffix only, value never printed
	Bool    bool // the flag may be given without a value
	Lines   bool // one item a line: errors name the line, never quote the value
	// Set parses and validates a non-empty value and stores it in c; its
	// error is the reason, without the variable's name or value.
	Set func(c *Config, v string) error
}

// Flag is the setting's command-line flag name, without dashes.
func (s *setting) Flag() string { return flagName(s.Env) }

// Groups, in the order Usage prints them.
const (
	groupNode       = "Node"
	groupConsul     = "Consul"
	groupSentinel   = "Sentinel"
	groupBackups    = "Backups"
	groupManta      = "Manta"
	groupHTTP       = "HTTP"
	groupLogging    = "Logging"
	groupSupervisor = "Supervisor"
)

var groups = []string{groupNode, groupConsul, groupSentinel, groupBackups, groupS3, groupManta, groupHTTP, groupLogging, groupSupervisor}

// Field selectors, so that table rows stay one line each.
func str(f func(*Config) *string) func(*Config, string) error {
	return into(f, parseString)
}
func path(f func(*Config) *string) func(*Config, string) error {
	return into(f, parseAbsPath)
}
func dur(f func(*Config) *time.Duration) func(*Config, string) error {
	return into(f, parseDuration)
}
func port(f func(*Config) *int) func(*Config, string) error {
	return into(f, parsePort)
}

var settings = []setting{
	// Node
	{Env: "ADVERTISE_ADDR", Group: groupNode, Help: "IP address other nodes and clients use to reach this node; empty means detect it.",
		Set: into(func(c *Config) *string { return &c.AdvertiseAddr }, parseIP)},
	{Env: "BIND_ADDR", Group: groupNode, Default: "0.0.0.0", Help: "IP address redis and sentinel listen on.",
		Set: into(func(c *Config) *string { return &c.BindAddr }, parseIP)},
	{Env: "REDIS_PORT", Group: groupNode, Default: "6379", Help: "redis-server port.",
		Set: port(func(c *Config) *int { return &c.RedisPort })},
	{Env: "SENTINEL_PORT", Group: groupNode, Default: "26379", Help: "redis-sentinel port.",
		Set: port(func(c *Config) *int { return &c.SentinelPort })},
	{Env: "REDIS_DATA_DIR", Group: groupNode, Default: "/data", Help: "Redis data directory (dump.rdb, appendonlydir/).",
		Set: path(func(c *Config) *string { return &c.RedisDataDir })},
	{Env: "REDIS_CONFIG_DIR", Group: groupNode, Default: "/etc/redis", Help: "Directory for the generated redis.conf and sentinel.conf.",
		Set: path(func(c *Config) *string { return &c.RedisConfigDir })},
	{Env: "REDIS_PASSWORD", Group: groupNode, Secret: true, Help: "Password for redis (requirepass, masterauth) and sentinel auth-pass; empty means none.",
		Set: str(func(c *Config) *string { return &c.RedisPassword })},
	{Env: "REDIS_USER", Group: groupNode, Help: "User redis-server and redis-sentinel run as (PID 1 stays root). Unset: redis when PID 1 is root and that user exists and can reach the data and config directories, else PID 1's user; root keeps them root.",
		Set: into(func(c *Config) *string { return &c.RedisUser }, parseUser)},
	{Env: "POLL_INTERVAL", Group: groupNode, Default: "5s", Help: "Health check and reconcile tick.",
		Set: dur(func(c *Config) *time.Duration { return &c.PollInterval })},
	{Env: "CHECK_TTL", Group: groupNode, Default: "25s", Help: "TTL of the Consul service checks; must exceed POLL_INTERVAL.",
		Set: dur(func(c *Config) *time.Duration { return &c.CheckTTL })},
	{Env: "MASTER_WAIT_TIMEOUT", Group: groupNode, Default: "60s", Help: "How long a starting node waits for a master to appear.",
		Set: dur(func(c *Config) *time.Duration { return &c.MasterWaitTimeout })},
	{Env: "REDIS_STOP_GRACE", Group: groupNode, Default: "60s", Help: "Time redis gets for its final save on stop before SIGKILL.",
		Set: dur(func(c *Config) *time.Duration { return &c.RedisStopGrace })},
	{Env: "REDIS_FLAVOR", Group: groupNode, Default: FlavorAuto, Help: "Server programs to run: redis (redis-server, redis-sentinel, redis-check-rdb), valkey (valkey-*), or auto: redis-* if installed, else valkey-*.",
		Set: setFlavor},
	{Env: "REDIS_CONFIG_EXTRA", Group: groupNode, Lines: true, Help: "Your own redis.conf directives, one a line (maxmemory, maxmemory-policy, save, io-threads, ...), written after the node's; directives the node owns are refused. Not a secret: put ACL users' passwords in an aclfile.",
		Set: setRedisExtra},
	{Env: "REDIS_CONFIG_INCLUDE_DIR", Group: groupNode, Help: `Directory of *.conf files included after the generated redis.conf, checked like REDIS_CONFIG_EXTRA; default /etc/redis/conf.d when it exists; "off" includes none.`,
		Set: setIncludeDir},
	{Env: "SENTINEL_CONFIG_EXTRA", Group: groupSentinel, Lines: true, Help: "Your own sentinel.conf directives, one a line (sentinel notification-script, loglevel, ...); directives the node owns are refused.",
		Set: setSentinelExtra},

	// Consul
	{Env: "CONSUL", Group: groupConsul, Help: "Consul server(s) to join, comma-separated; when set, a local Consul agent runs as a coprocess.",
		Set: into(func(c *Config) *[]string { return &c.ConsulJoin }, parseList)},
	{Env: "CONSUL_LOCAL_CONFIG", Group: groupConsul, Secret: true, Help: "JSON object written into the local agent's config directory.",
		Set: into(func(c *Config) *string { return &c.ConsulLocalConfig }, parseJSONObject)},
	{Env: "CONSUL_DATA_DIR", Group: groupConsul, Default: "/opt/consul/data", Help: "Local agent's data directory.",
		Set: path(func(c *Config) *string { return &c.ConsulDataDir })},
	{Env: "CONSUL_CONFIG_DIR", Group: groupConsul, Default: "/opt/consul/config", Help: "Local agent's config directory.",
		Set: path(func(c *Config) *string { return &c.ConsulConfigDir })},
	{Env: "CONSUL_LEADER_TIMEOUT", Group: groupConsul, Default: "2m", Help: "How long to wait for Consul to have a leader at start.",
		Set: dur(func(c *Config) *time.Duration { return &c.ConsulLeaderTimeout })},
	{Env: "CONSUL_HTTP_ADDR", Group: groupConsul, Default: "127.0.0.1:8500", Help: "Consul HTTP API: host:port, http(s)://host:port or unix:///path.",
		Set: into(func(c *Config) *string { return &c.Consul.Address }, parseConsulAddr)},
	{Env: "CONSUL_HTTP_TOKEN", Group: groupConsul, Secret: true, Help: "Consul ACL token.",
		Set: str(func(c *Config) *string { return &c.Consul.Token })},
	{Env: "CONSUL_HTTP_SSL", Group: groupConsul, Default: "false", Bool: true, Help: "Talk HTTPS to Consul.",
		Set: setConsulSSL},
	{Env: "CONSUL_HTTP_SSL_VERIFY", Group: groupConsul, Default: "true", Bool: true, Help: "Verify Consul's TLS certificate.",
		Set: setConsulSSLVerify},
	{Env: "CONSUL_CACERT", Group: groupConsul, Help: "CA certificate file (PEM) for Consul's TLS certificate.",
		Set: into(func(c *Config) *string { return &c.Consul.TLSConfig.CAFile }, readableFile)},
	{Env: "CONSUL_CLIENT_CERT", Group: groupConsul, Help: "Client certificate file (PEM) for Consul; needs CONSUL_CLIENT_KEY.",
		Set: into(func(c *Config) *string { return &c.Consul.TLSConfig.CertFile }, readableFile)},
	{Env: "CONSUL_CLIENT_KEY", Group: groupConsul, Help: "Client key file (PEM) for Consul; needs CONSUL_CLIENT_CERT.",
		Set: into(func(c *Config) *string { return &c.Consul.TLSConfig.KeyFile }, readableFile)},
	{Env: "CONSUL_TLS_SERVER_NAME", Group: groupConsul, Help: "Server name to verify Consul's TLS certificate against.",
		Set: str(func(c *Config) *string { return &c.Consul.TLSConfig.Address })},

	// Sentinel
	{Env: "SENTINEL_QUORUM", Group: groupSentinel, Default: "2", Help: "Sentinels that must agree the master is down. The Consul key service/redis-sentinel/quorum overrides it.",
		Set: into(func(c *Config) *int { return &c.SentinelQuorum }, parseQuorum)},
	{Env: "SENTINEL_DOWN_AFTER", Group: groupSentinel, Default: "5s", Help: "Sentinel down-after-milliseconds; at most 2147483647ms (about 24 days).",
		Set: into(func(c *Config) *time.Duration { return &c.SentinelDownAfter }, parseSentinelTime)},
	{Env: "SENTINEL_FAILOVER_TIMEOUT", Group: groupSentinel, Default: "60s", Help: "Sentinel failover-timeout; at most 2147483647ms. The Consul key service/redis-sentinel/failover-timeout overrides it.",
		Set: into(func(c *Config) *time.Duration { return &c.SentinelFailoverTimeout }, parseSentinelTime)},
	{Env: "SENTINEL_FORGET_AFTER", Group: groupSentinel, Default: "5m", Help: "A replica or sentinel that Consul has had no live registration for this long, and that Sentinel flags down, is forgotten (SENTINEL RESET, one sentinel at a time); registrations of Consul agents gone this long are removed.",
		Set: dur(func(c *Config) *time.Duration { return &c.SentinelForgetAfter })},

	// Backups
	{Env: "BACKUP_DIR", Group: groupBackups, Help: "Local directory to store backups in. Set only one of BACKUP_DIR, MANTA_* and S3_URL; none means no backups.",
		Set: path(func(c *Config) *string { return &c.BackupDir })},
	{Env: "BACKUP_TTL", Group: groupBackups, Default: "24h", Help: "The cluster takes a backup when the newest is older than this.",
		Set: dur(func(c *Config) *time.Duration { return &c.BackupTTL })},
	{Env: "BACKUP_INTERVAL", Group: groupBackups, Default: "10m", Help: "How often the cluster-wide backup task checks whether a backup is due.",
		Set: dur(func(c *Config) *time.Duration { return &c.BackupInterval })},
	{Env: "BACKUP_KEEP", Group: groupBackups, Default: "7", Help: "How many backups to keep; 0 keeps all.",
		Set: into(func(c *Config) *int { return &c.BackupKeep }, intAtLeast(0))},
	{Env: "BACKUP_COMPRESSION", Group: groupBackups, Default: CompressionZstd, Help: "Backup compression: zstd or gzip.",
		Set: into(func(c *Config) *string { return &c.BackupCompression }, oneOf(CompressionZstd, CompressionGzip))},
	{Env: "BACKUP_STALL_TIMEOUT", Group: groupBackups, Default: "2m", Help: "A backup's upload or verification read-back that gets no progress from the store for this long is abandoned (last-backup unchanged) and the backup lock released.",
		Set: dur(func(c *Config) *time.Duration { return &c.BackupStallTimeout })},
	{Env: "PITR", Group: groupBackups, Default: "true", Bool: true, Help: "Point-in-time recovery, on whenever a backup store is configured: one node ships the AOF to the backup store's pitr/ prefix (and every node writes AOF timestamps); chains are pruned with BACKUP_KEEP. false turns it off. Needs Redis 7+.",
		Set: into(func(c *Config) *bool { return &c.PITR }, parseBool)},
	{Env: "PITR_INTERVAL", Group: groupBackups, Default: "1s", Help: "How often new AOF bytes are shipped for point-in-time recovery.",
		Set: dur(func(c *Config) *time.Duration { return &c.PITRInterval })},
	{Env: "BACKUP_ENCRYPTION_KEY", Group: groupBackups, Secret: true, Help: "Encrypts every new backup with age: an age identity (AGE-SECRET-KEY-1..., from age-keygen) or a passphrase of 16+ characters; several one a line (the first encrypts, all decrypt: key rotation).",
		Set: setBackupKey},
	{Env: "BACKUP_ENCRYPTION_RECIPIENTS", Group: groupBackups, Help: "Extra age recipients (age1..., comma-separated) new backups are encrypted for, e.g. an offline recovery key; needs BACKUP_ENCRYPTION_KEY.",
		Set: into(func(c *Config) *[]string { return &c.BackupEncryptionRecipients }, parseList)},
	{Env: "RESTORE_ALLOW_EMPTY", Group: groupBackups, Default: "false", Bool: true, Help: "Start as an empty master when no backup can be restored, instead of failing.",
		Set: into(func(c *Config) *bool { return &c.RestoreAllowEmpty }, parseBool)},

	// Manta
	{Env: "MANTA_URL", Group: groupManta, Default: "https://us-east.manta.joyent.com", Help: "Manta endpoint.",
		Set: into(func(c *Config) *string { return &c.MantaURL }, parseURL)},
	{Env: "MANTA_USER", Group: groupManta, Help: "Manta account. MANTA_USER, MANTA_KEY_ID and MANTA_PRIVATE_KEY enable Manta backups together.",
		Set: str(func(c *Config) *string { return &c.MantaUser })},
	{Env: "MANTA_SUBUSER", Group: groupManta, Help: "Manta sub-user (optional).",
		Set: str(func(c *Config) *string { return &c.MantaSubuser })},
	{Env: "MANTA_ROLE", Group: groupManta, Help: "Manta role (optional).",
		Set: str(func(c *Config) *string { return &c.MantaRole })},
	{Env: "MANTA_KEY_ID", Group: groupManta, Help: "Fingerprint of MANTA_PRIVATE_KEY: MD5 colon hex (optionally MD5:-prefixed) or SHA256:...",
		Set: into(func(c *Config) *string { return &c.MantaKeyID }, parseKeyID)},
	{Env: "MANTA_PRIVATE_KEY", Group: groupManta, Secret: true, Help: "RSA or ECDSA private key (PEM, unencrypted); newlines may be written as #.",
		Set: setMantaKey},
	{Env: "MANTA_BUCKET", Group: groupManta, Help: "Manta directory for backups; default /<MANTA_USER>/stor/triton-redis.",
		Set: path(func(c *Config) *string { return &c.MantaBucket })},

	// HTTP
	{Env: "HTTP_ADDR", Group: groupHTTP, Default: ":8008", Help: `Status and metrics listener, host:port; "off" disables it.`,
		Set: into(func(c *Config) *string { return &c.HTTPAddr }, parseHTTPAddr)},

	// Logging
	{Env: "LOG_LEVEL", Group: groupLogging, Default: "INFO", Help: "Log level: " + logging.Levels + " (any case).",
		Set: into(func(c *Config) *string { return &c.LogLevel }, parseLogLevel)},
	{Env: "LOG_FORMAT", Group: groupLogging, Default: "text", Help: "Log format: text or json.",
		Set: setLogFormat},

	// Supervisor
	{Env: "RESTART_LIMIT", Group: groupSupervisor, Default: "5", Help: "A child failing this many times in a row, each run shorter than RESTART_MIN_UPTIME, is a crash loop.",
		Set: into(func(c *Config) *int { return &c.RestartLimit }, intAtLeast(1))},
	{Env: "RESTART_MIN_UPTIME", Group: groupSupervisor, Default: "10s", Help: "A child run shorter than this counts towards RESTART_LIMIT.",
		Set: dur(func(c *Config) *time.Duration { return &c.RestartMinUptime })},
	{Env: "RESTART_BACKOFF_MAX", Group: groupSupervisor, Default: "30s", Help: "Longest wait between restarts of a failing child.",
		Set: dur(func(c *Config) *time.Duration { return &c.RestartBackoffMax })},
}

func parseLogLevel(v string) (string, error) {
	l, err := logging.ParseLevel(v)
	if err != nil {
		return "", errors.New("must be one of " + logging.Levels)
	}
	return strings.ToUpper(l.String()), nil
}

func setLogFormat(c *Config, v string) error {
	f, err := oneOf("text", "json")(v)
	c.LogJSON = f == "json"
	return err
}
