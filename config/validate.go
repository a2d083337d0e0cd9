package config

import "strconv"

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
	if c.Consul != nil {
		return validateConsulTLS(&c.Consul.TLSConfig)
	}
	return nil
}
