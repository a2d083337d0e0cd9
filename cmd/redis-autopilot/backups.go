package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/internal/guard"
	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// nodeBackups is the node's part in backups: the restore hook used on
// start and the cluster-wide scheduler. Without a store configured
// (neither BACKUP_DIR nor MANTA_*) both are off.
type nodeBackups struct {
	cfg   *config.Config
	log   hclog.Logger
	store store.Store
	sup   *supervisor.Supervisor
	reg   *registry.Registry
	m     *metrics.Metrics
	sched *backup.Scheduler
	bins  redisnode.Binaries
	// shipper is the point-in-time shipper while this node ships.
	shipper atomic.Pointer[pitr.Shipper]
}

func newNodeBackups(cfg *config.Config, log hclog.Logger, sup *supervisor.Supervisor, reg *registry.Registry, m *metrics.Metrics, bins redisnode.Binaries) (*nodeBackups, error) {
	st, err := backup.OpenStore(cfg, log.Named("store"))
	if err != nil {
		return nil, fmt.Errorf("open the backup store: %w", err)
	}
	if st == nil {
		log.Info("no backup store configured (BACKUP_DIR or MANTA_*): backups and restores are off")
		return nil, nil
	}
	return &nodeBackups{cfg: cfg, log: log, store: st, sup: sup, reg: reg, m: m, bins: bins}, nil
}

// Restore is the lifecycle's restore hook: it runs on a node elected
// master of an empty cluster whose data directory is empty.
func (b *nodeBackups) Restore(ctx context.Context) error {
	start := time.Now()
	name, err := backup.Restore(ctx, backup.RestoreOptions{
		Store: b.store, KV: b.reg, DataDir: b.cfg.RedisDataDir, Sup: b.sup,
		Password: b.cfg.RedisPassword, User: b.cfg.RedisConfigExtra, Include: b.cfg.RedisIncludeFiles, UserSets: b.cfg.RedisUserSets,
		Encryption: b.cfg.BackupEncryption, AllowEmpty: b.cfg.RestoreAllowEmpty,
		StallTimeout: b.cfg.BackupStallTimeout, Log: b.log.Named("restore"),
		RedisServerPath: b.bins.Server, CheckRDBPath: b.bins.CheckRDB,
	})
	if err != nil {
		return err
	}
	if name != "" {
		b.m.RestoreDone(time.Since(start))
	}
	return nil
}

// startScheduler runs the cluster-wide backup task until ctx ends.
func (b *nodeBackups) startScheduler(ctx context.Context, self string) error {
	rc := redisnode.Dial(localAddr(b.cfg, b.cfg.RedisPort), b.cfg.RedisPassword)
	s, err := backup.NewScheduler(backup.SchedulerOptions{
		Backup: backup.Options{Redis: rc, DataDir: b.cfg.RedisDataDir, Store: b.store, Compression: b.cfg.BackupCompression,
			Encryption: b.cfg.BackupEncryption, StallTimeout: b.cfg.BackupStallTimeout, Log: b.log.Named("backup")},
		Registry: b.reg, Node: backup.RedisNodeState(rc), Holder: self,
		Interval: b.cfg.BackupInterval, TTL: b.cfg.BackupTTL, Keep: b.cfg.BackupKeep,
		Retain: chainRetention(b.store, b.reg, b.log.Named("pitr")),
		Log:    b.log.Named("backup"), Observer: b.m,
	})
	if err != nil {
		rc.Close()
		return err
	}
	b.sched = s
	go func() {
		defer rc.Close()
		defer guard.Log(b.log, "the backup scheduler panicked; no scheduled backups until the node restarts")
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			b.log.Error("backup scheduler stopped", "error", err)
		}
	}()
	return nil
}

// Now takes a backup at once (SIGUSR2).
func (b *nodeBackups) Now() {
	if b != nil && b.sched != nil {
		b.sched.Now()
	}
}
