package config

import (
	"fmt"
	"strconv"
)

// Validate checks the relations between fields. Load has already
// checked each field's own form (ports, paths, durations); code that
// builds a Config by hand should call Validate too.
func (c *Config) Validate() error {
	if c.CheckTTL <= c.PollInterval {
		return &Error{Var: "CHECK_TTL", Value: c.CheckTTL.String(),
			Reason: "must exceed POLL_INTERVAL (" + c.PollInterval.String() + ")"}
	}
	if c.RedisPort == c.SentinelPort {
		return &Error{Var: "SENTINEL_PORT", Value: strconv.Itoa(c.SentinelPort), Reason: "must differ from REDIS_PORT"}
	}
	if err := c.validateManta(); err != nil {
		return err
	}
	if err := c.validateS3(); err != nil {
		return err
	}
	if err := c.validateEncryption(); err != nil {
		return err
	}
	if c.Consul != nil {
		return validateConsulTLS(&c.Consul.TLSConfig)
	}
	return nil
}

// String summarises c without its secrets, so that logging a Config
// (fmt's %v and %+v) cannot leak REDIS_PASSWORD, CONSUL_HTTP_TOKEN,
// CONSUL_LOCAL_CONFIG or the Manta key.
func (c *Config) String() string {
	backups := "none"
	switch {
	case c.BackupDir != "":
		backups = "dir:" + c.BackupDir
	case c.MantaEnabled():
		backups = "manta:" + c.MantaURL + c.MantaBucket
	case c.S3.Enabled():
		backups = c.S3.URL
	}
	consul := "<nil>"
	if c.Consul != nil {
		consul = c.Consul.Scheme + "://" + c.Consul.Address
	}
	return fmt.Sprintf("config{redis=%s:%d sentinel=%d advertise=%q data=%s consul=%s join=%v backups=%s password=%t}",
		c.BindAddr, c.RedisPort, c.SentinelPort, c.AdvertiseAddr, c.RedisDataDir, consul, c.ConsulJoin, backups, c.RedisPassword != "")
}
