package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
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
	rc := redisnode.Dial(localAddr(b.cfg, b.cfg.RedisPort), b.cfg.RedisPassword)
	log := b.log.Named("pitr")
	o := pitr.ClusterOptions{
		Shipper: pitr.ShipperOptions{Node: pitr.RedisNode{C: rc}, DataDir: b.cfg.RedisDataDir, Store: cs,
			Holder: self, Interval: b.cfg.PITRInterval, Log: log},
		Registry: b.reg, Node: backup.RedisNodeState(rc), Log: log,
	}
	go func() {
		defer rc.Close()
		if err := pitr.RunCluster(ctx, o); err != nil && ctx.Err() == nil {
			log.Error("point-in-time shipping stopped", "error", err)
		}
	}()
	return nil
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
	fmt.Fprintf(stdout, "restored chain %s to %s into %s\n", plan.Chain.Info.ID, to, cfg.RedisDataDir)
	return nil
}

// listChains prints each point-in-time chain's recoverable window after
// the backups (text output only).
// Listing reads only names and chain.json, which are never encrypted.
func listChains(ctx context.Context, st store.Store, stdout, stderr io.Writer) {
	cs, err := pitr.NewChainStore(st, nil)
	var chains []pitr.Chain
	if err == nil {
		chains, err = cs.Chains(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "warning: cannot list point-in-time chains: %v\n", err)
		return
	}
	if len(chains) == 0 {
		return
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPOINT-IN-TIME CHAIN\tFROM\tTO\tSEGMENTS\tNODE\tSTATUS")
	for _, c := range chains {
		p := pitr.Follow(c)
		status := "open"
		switch {
		case p.Gap != "":
			status = "gap: " + p.Gap
		case c.End != nil:
			status = "ended: " + c.End.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", c.Info.ID, unixRFC3339(c.Info.BaseTS), unixRFC3339(p.LastTS),
			len(p.Segments), c.Info.Node, status)
	}
	tw.Flush()
}

func unixRFC3339(ts int64) string { return time.Unix(ts, 0).UTC().Format(time.RFC3339) }
