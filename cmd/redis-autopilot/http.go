package main

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/httpapi"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// localAddr is where this process reaches the node's own redis or sentinel.
func localAddr(cfg *config.Config, port int) string { return lifecycle.LocalAddr(cfg.BindAddr, port) }

func newMetrics(cfg *config.Config, sup *supervisor.Supervisor) (*metrics.Metrics, *prometheus.Registry, error) {
	reg := metrics.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		return nil, nil, err
	}
	m.BackupTTL(cfg.BackupTTL)
	return m, reg, nil
}

// startHTTP serves /metrics, /health, /master, /replica and /status on
// HTTP_ADDR; with HTTP_ADDR=off it opens no port.
func startHTTP(ctx context.Context, cfg *config.Config, log hclog.Logger, node *lifecycle.Node,
	m *metrics.Metrics, reg *prometheus.Registry, sup *supervisor.Supervisor, pitrStatus func() (pitr.Status, bool)) (*httpapi.Server, error) {
	redis := redisnode.Dial(localAddr(cfg, cfg.RedisPort), cfg.RedisPassword)
	sent := sentinel.Dial(localAddr(cfg, cfg.SentinelPort), cfg.RedisPassword)
	masterInfo := metrics.DialMasterInfo(cfg.RedisPassword)
	reg.MustRegister(metrics.NewCollector(metrics.CollectorOptions{
		Log: log.Named("metrics"), Children: metrics.SupervisorChildren(sup),
		Redis: redis, MasterInfo: masterInfo, Self: node.Self(),
	}))
	srv, err := httpapi.New(httpapi.Options{
		Addr: cfg.HTTPAddr, Log: log.Named("http"),
		Status:  node.Status,
		Health:  httpapi.NodeHealth(redis, sent),
		Role:    httpapi.NodeRole(node.Status, redis, masterInfo),
		Metrics: metrics.Handler(reg),
		PITR:    pitrStatus,
	})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	if srv.Enabled() {
		log.Info("HTTP listener started", "addr", srv.Addr())
	}
	return srv, nil
}
