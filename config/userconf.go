package config

import (
	"errors"
	"os"

	"github.com/autopilotpattern/redis-autopilot/etc"
)

// DefaultIncludeDir is REDIS_CONFIG_INCLUDE_DIR when it is unset and this
// directory exists (a volume mounted there, say).
const DefaultIncludeDir = "/etc/redis/conf.d"

// Server flavours REDIS_FLAVOR accepts; "auto" is stored as "".
const (
	FlavorAuto   = "auto"
	FlavorRedis  = "redis"
	FlavorValkey = "valkey"
)

func setFlavor(c *Config, v string) error {
	f, err := oneOf(FlavorAuto, FlavorRedis, FlavorValkey)(v)
	if f == FlavorAuto {
		f = ""
	}
	c.RedisFlavor = f
	return err
}

// setRedisExtra parses REDIS_CONFIG_EXTRA and refuses the directives the
// node owns; reasons name the line and the directive.
func setRedisExtra(c *Config, v string) error {
	ds, lines, err := etc.ParseUserLines("", v)
	if err != nil {
		return err
	}
	if err := etc.CheckRedisOwned(ds); err != nil {
		return err
	}
	c.RedisConfigExtra = lines
	for _, d := range ds {
		c.RedisUserSets = append(c.RedisUserSets, d.Name)
	}
	return nil
}

func setSentinelExtra(c *Config, v string) error {
	ds, lines, err := etc.ParseUserLines("", v)
	if err != nil {
		return err
	}
	if err := etc.CheckSentinelOwned(ds); err != nil {
		return err
	}
	c.SentinelConfigExtra = lines
	return nil
}

func setIncludeDir(c *Config, v string) error {
	if v == "off" {
		c.noIncludeDir = true
		return nil
	}
	p, err := parseAbsPath(v)
	if err != nil {
		return err
	}
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		return errors.New(`must be an existing directory (or "off")`)
	}
	c.RedisIncludeDir = p
	return nil
}

// loadIncludeDir settles REDIS_CONFIG_INCLUDE_DIR (DefaultIncludeDir when
// unset and present) and reads its *.conf files, refusing the directives
// the node owns.
func (c *Config) loadIncludeDir() error {
	if c.RedisIncludeDir == "" && !c.noIncludeDir {
		if st, err := os.Stat(DefaultIncludeDir); err == nil && st.IsDir() {
			c.RedisIncludeDir = DefaultIncludeDir
		}
	}
	if c.RedisIncludeDir == "" {
		return nil
	}
	files, ds, err := etc.IncludeFiles(c.RedisIncludeDir)
	if err == nil {
		err = etc.CheckRedisOwned(ds)
	}
	if err != nil {
		return &Error{Var: "REDIS_CONFIG_INCLUDE_DIR", Value: c.RedisIncludeDir, Reason: err.Error(), Err: err}
	}
	c.RedisIncludeFiles = files
	for _, d := range ds {
		c.RedisUserSets = append(c.RedisUserSets, d.Name)
	}
	return nil
}
