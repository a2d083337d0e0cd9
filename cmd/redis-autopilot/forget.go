package main

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/forget"
	"github.com/autopilotpattern/redis-autopilot/internal/guard"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// startForget runs the cluster-wide cleanup of departed replicas and
// sentinels (one node at a time, under forget.LockKey) until ctx ends.
func startForget(ctx context.Context, cfg *config.Config, log hclog.Logger, m *metrics.Metrics, self string) error {
	log = log.Named("forget")
	reg, err := registry.New(registry.Options{API: cfg.Consul, Log: log})
	if err != nil {
		return err
	}
	c, err := forget.New(forget.Options{Log: log, Reg: reg, Holder: self, MasterName: lifecycle.MasterName,
		Password: cfg.RedisPassword, Grace: cfg.SentinelForgetAfter, Interval: cfg.PollInterval, Events: m})
	if err != nil {
		return err
	}
	go func() {
		defer guard.Log(log, "the departed-node cleanup panicked; nothing is forgotten until the node restarts")
		c.Run(ctx)
	}()
	return nil
}
