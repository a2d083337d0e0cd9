package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/hashicorp/go-hclog"
)

// errNodeRunning: restore refuses while the node's redis answers.
var errNodeRunning = errors.New("the local redis answers: stop the node before restoring")

// backupRestore restores NAME into the (empty) data directory of a
// stopped node.
func backupRestore(ctx context.Context, cfg *config.Config, log hclog.Logger, st store.Store, req backupRequest, stdout, stderr io.Writer) error {
	rc := localRedis(cfg)
	pingCtx, cancel := context.WithTimeout(ctx, time.Second)
	err := rc.Ping(pingCtx)
	cancel()
	rc.Close()
	if err == nil {
		return fmt.Errorf("port %d: %w", cfg.RedisPort, errNodeRunning)
	}
	syscall.Umask(0o077)
	sup, err := supervisor.New(supervisor.Options{Log: log.Named("supervisor"), NoSignals: true, Env: childEnv()})
	if err != nil {
		return err
	}
	supCtx, stopSup := context.WithCancel(context.Background())
	if err := sup.Start(supCtx); err != nil {
		stopSup()
		return err
	}
	defer func() {
		sup.StopAll(context.Background())
		stopSup()
		<-sup.Done()
	}()
	bins, err := redisnode.FindBinaries(redisnode.Flavor(cfg.RedisFlavor), exec.LookPath)
	if err != nil {
		return err
	}
	if req.To != "" {
		return restoreToTime(ctx, cfg, log, st, sup, bins.CheckAOF, req.To, stdout)
	}
	name, err := backup.Restore(ctx, backup.RestoreOptions{Store: st, Name: req.Name, DataDir: cfg.RedisDataDir,
		Sup: sup, Password: cfg.RedisPassword, User: cfg.RedisConfigExtra, Include: cfg.RedisIncludeFiles, UserSets: cfg.RedisUserSets,
		Encryption: cfg.BackupEncryption, StallTimeout: cfg.BackupStallTimeout,
		Log: log, Progress: terminal(stderr),
		RedisServerPath: bins.Server, CheckRDBPath: bins.CheckRDB})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", name, cfg.RedisDataDir)
	return nil
}

// backupDelete deletes NAME; the backup last-backup names only with
// --force, and then last-backup is cleared so the cluster takes a new one.
func backupDelete(ctx context.Context, cfg *config.Config, log hclog.Logger, st store.Store, req backupRequest, stdout, _ io.Writer) error {
	reg, err := openRegistry(cfg, log)
	if err != nil {
		return err
	}
	last, found, err := backup.ReadLast(ctx, reg)
	if err != nil {
		return fmt.Errorf("check last-backup before deleting: %w", err)
	}
	isLast := found && last.Name == req.Name
	if isLast && !req.Force {
		return fmt.Errorf("%s is the last good backup (%s); use --force to delete it", req.Name, registry.KeyLastBackup)
	}
	if err := st.Delete(ctx, req.Name); err != nil {
		return err
	}
	if isLast {
		for _, k := range []string{registry.KeyLastBackup, backup.KeyLastBackupMeta} {
			if err := reg.Delete(ctx, k); err != nil {
				return fmt.Errorf("deleted %s, but clearing %s failed: %w", req.Name, k, err)
			}
		}
	}
	fmt.Fprintf(stdout, "deleted %s\n", req.Name)
	return nil
}
