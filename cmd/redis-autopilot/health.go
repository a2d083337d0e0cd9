package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/httpapi"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// healthTimeout bounds the whole check, well inside Docker's default
// HEALTHCHECK timeout of 30 s.
const healthTimeout = 5 * time.Second

// runHealth exits exitOK when the local redis is healthy by the node's
// rules (answers, not loading, AOF and RDB writes ok, a replica's link up)
// and the local sentinel answers. It only reads.
func runHealth(cfg *config.Config, log hclog.Logger, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	redis := redisnode.Dial(localAddr(cfg, cfg.RedisPort), cfg.RedisPassword)
	defer redis.Close()
	sent := sentinel.Dial(localAddr(cfg, cfg.SentinelPort), cfg.RedisPassword)
	defer sent.Close()
	ok, reason := httpapi.NodeHealth(redis, sent)(ctx)
	if !ok {
		fmt.Fprintln(stderr, "unhealthy:", reason)
		return exitFailure
	}
	fmt.Fprintln(stdout, "healthy")
	return exitOK
}
