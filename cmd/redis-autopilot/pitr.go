package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/hashicorp/go-hclog"
)

// startPITR ships the AOF for point-in-time recovery from whichever node
// holds the shipping lock, until ctx ends (PITR, PITR_INTERVAL).
func (b *nodeBackups) startPITR(ctx context.Context, self string) error {
	if !b.cfg.PITR {
		b.log.Info("point-in-time recovery is off (PITR=false)")
		return nil
	}
	cs, err := pitr.NewChainStore(b.store, b.cfg.BackupEncryption)
	if err != nil {
		return err
	}
	b.publishParent(ctx)
	rc := redisnode.Dial(localAddr(b.cfg, b.cfg.RedisPort), b.cfg.RedisPassword)
	log := b.log.Named("pitr")
	o := pitr.ClusterOptions{
		Shipper: pitr.ShipperOptions{Node: pitr.RedisNode{C: rc}, DataDir: b.cfg.RedisDataDir, Store: cs,
			Holder: self, Interval: b.cfg.PITRInterval, MaxAge: b.cfg.BackupTTL, StallTimeout: b.cfg.BackupStallTimeout,
			// run.go writes aof-timestamp-enabled into redis.conf with PITR on.
			StampedFromStart: true, Observer: b.m, Log: log},
		Registry: b.reg, Node: backup.RedisNodeState(rc), Log: log,
		Shipping: func(sh *pitr.Shipper) {
			b.shipper.Store(sh)
			b.m.PITRShipping(sh != nil)
		},
	}
	go func() {
		defer rc.Close()
		if err := pitr.RunCluster(ctx, o); err != nil && ctx.Err() == nil {
			log.Error("point-in-time shipping stopped", "error", err)
		}
	}()
	return nil
}

// publishParent hands the chain and second this node's data was restored
// from (backup restore --to left them in the data directory) to Consul,
// where whichever node ships next records them in its new chain.
func (b *nodeBackups) publishParent(ctx context.Context) {
	ref, found, err := pitr.ReadParentFile(b.cfg.RedisDataDir)
	if err == nil && found {
		var v []byte
		if v, err = json.Marshal(ref); err == nil {
			err = b.reg.Put(ctx, pitr.KeyParent, string(v))
		}
		if err == nil {
			err = pitr.RemoveParentFile(b.cfg.RedisDataDir)
			b.log.Info("this node was restored to a point in time; the next chain names it as its parent", "chain", ref.Chain, "time", unixRFC3339(ref.TS))
		}
	}
	if err != nil {
		b.log.Warn("could not hand the restore's parent chain to Consul; the next chain will not name it", "error", err)
	}
}

// chainRetention prunes point-in-time chains with the backups
// (BACKUP_KEEP): chains whose window ended before the oldest backup kept,
// never the one Consul says is being shipped (also with PITR=false: the
// chains of before are kept no longer than the backups).
func chainRetention(st store.Store, reg *registry.Registry, log hclog.Logger) func(context.Context, time.Time) error {
	return func(ctx context.Context, oldest time.Time) error {
		progress, _, err := reg.Get(ctx, pitr.KeyProgress)
		if err != nil {
			return fmt.Errorf("read %s: %w", pitr.KeyProgress, err)
		}
		active, err := pitr.ActiveChain(progress)
		if err != nil {
			return err
		}
		cs, err := pitr.NewChainStore(st, nil)
		if err != nil {
			return err
		}
		deleted, err := cs.Prune(ctx, pitr.PruneOptions{Horizon: oldest, Active: active})
		if len(deleted) > 0 {
			log.Info("deleted point-in-time chains older than the oldest backup kept", "chains", deleted, "oldest_backup", oldest)
		}
		return err
	}
}

// PITRStatus is this node's shipping progress; ok is false when it does
// not ship (or has no chain yet).
func (b *nodeBackups) PITRStatus() (st pitr.Status, ok bool) {
	if b == nil {
		return pitr.Status{}, false
	}
	if sh := b.shipper.Load(); sh != nil {
		return sh.Status()
	}
	return pitr.Status{}, false
}

// parseTarget reads restore --to: RFC 3339 or "latest".
func parseTarget(s string) (int64, error) {
	if s == "latest" {
		return pitr.Latest, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("--to %q: want RFC 3339 (2026-11-27T15:12:01Z) or latest", s)
	}
	return t.Unix(), nil
}

// restoreToTime restores the chain that reaches TIME into the empty data
// directory of a stopped node; it needs no Consul.
func restoreToTime(ctx context.Context, cfg *config.Config, log hclog.Logger, st store.Store, sup *supervisor.Supervisor, checkAOF, to string, stdout io.Writer) error {
	target, err := parseTarget(to)
	if err != nil {
		return err
	}
	cs, err := pitr.NewChainStore(st, cfg.BackupEncryption)
	if err != nil {
		return err
	}
	chains, err := cs.Chains(ctx)
	if err != nil {
		return err
	}
	plan, err := pitr.Choose(chains, target)
	if err != nil {
		return err
	}
	err = pitr.Restore(ctx, pitr.RestoreOptions{Source: cs, DataDir: cfg.RedisDataDir, Sup: sup, CheckAOFPath: checkAOF, Log: log.Named("pitr")}, plan)
	if err != nil {
		return err
	}
	if err := pitr.WriteParentFile(cfg.RedisDataDir, pitr.RestoredTo(plan)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored chain %s to %s into %s\n", plan.Chain.Info.ID, to, cfg.RedisDataDir)
	return nil
}
