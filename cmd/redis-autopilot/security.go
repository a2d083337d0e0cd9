package main

import (
	"fmt"
	"net"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/etc"
	"github.com/autopilotpattern/redis-autopilot/internal/runas"
)

// defaultChildUser is who redis and sentinel run as when PID 1 is root
// and REDIS_USER is unset: the user the Debian redis packages create.
const defaultChildUser = "redis"

// childUser resolves REDIS_USER: the user redis-server and redis-sentinel
// run as; nil means as this process. Unset, it is defaultChildUser when
// this process is root and that user exists and can reach the data and
// config directories; otherwise the children stay with this process's
// user and a WARN says why and how to change it. A user named explicitly
// that cannot be used is an error.
func childUser(cfg *config.Config, log hclog.Logger) (*runas.User, error) {
	dirs := []string{cfg.RedisDataDir, cfg.RedisConfigDir}
	name := cfg.RedisUser
	if name == "" {
		if os.Geteuid() != 0 {
			return nil, nil
		}
		u, err := runas.Lookup(defaultChildUser)
		if err != nil {
			log.Warn("redis and sentinel run as root: there is no user "+defaultChildUser,
				"fix", "create it (useradd --system redis) or set REDIS_USER")
			return nil, nil
		}
		if err := canReach(u, dirs); err != nil {
			log.Warn("redis and sentinel run as root: the data or config directory is out of the redis user's reach",
				"reason", err, "fix", "make the parent directories searchable by redis (chmod o+x), or set REDIS_USER=root")
			return nil, nil
		}
		return u, nil
	}
	u, err := runas.Lookup(name)
	if err != nil {
		return nil, err
	}
	switch {
	case u.UID == os.Geteuid():
		return nil, nil
	case os.Geteuid() != 0:
		return nil, fmt.Errorf("REDIS_USER=%s: redis-autopilot runs as uid %d and only root can start children as another user", name, os.Geteuid())
	}
	if err := canReach(u, dirs); err != nil {
		return nil, fmt.Errorf("REDIS_USER=%s: %w", name, err)
	}
	return u, nil
}

func canReach(u *runas.User, dirs []string) error {
	for _, d := range dirs {
		if err := u.CanReach(d); err != nil {
			return err
		}
	}
	return nil
}

// openToAll reports the combination that leaves the data open to anyone
// who can reach the host: no password (the configs always say
// protected-mode no, since clients and other nodes connect from other
// addresses) and listening on every address.
func openToAll(cfg *config.Config) bool {
	ip := net.ParseIP(cfg.BindAddr)
	return cfg.RedisPassword == "" && (cfg.BindAddr == "" || ip == nil || ip.IsUnspecified())
}

// warnInsecure logs a WARN at start for openToAll.
func warnInsecure(cfg *config.Config, log hclog.Logger) {
	if openToAll(cfg) {
		log.Warn("redis and sentinel accept anyone who can reach this host: no password, protected-mode no, listening on all addresses",
			"bind", cfg.BindAddr, "fix", "set REDIS_PASSWORD (or REDIS_PASSWORD_FILE), or BIND_ADDR to a private address")
	}
}

// warnShortDownAfter logs a WARN at start for a down-after that a
// sentinel's TILT can outlast (etc.TiltBlocksFailover).
func warnShortDownAfter(cfg *config.Config, log hclog.Logger) {
	if etc.TiltBlocksFailover(cfg.SentinelDownAfter) {
		log.Warn("SENTINEL_DOWN_AFTER is under a tenth of Sentinel's TILT period: a master that dies while a stall of the host keeps the sentinels in TILT is never failed over (they reject every replica whose link has been down more than 10 x down-after) until it comes back",
			"down_after", cfg.SentinelDownAfter, "tilt", etc.SentinelTilt, "fix", "set SENTINEL_DOWN_AFTER to 3s or more (the default is 5s)")
	}
}
