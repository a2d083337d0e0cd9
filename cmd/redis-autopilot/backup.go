package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// errNoStore: neither BACKUP_DIR nor Manta is configured.
var errNoStore = errors.New("no backup store configured: set BACKUP_DIR, or MANTA_USER and the other MANTA_* variables")

// runBackup runs `backup now|list|restore NAME|delete NAME|decrypt NAME`.
// SIGINT and SIGTERM cancel what is running; a cancelled upload leaves
// nothing.
func runBackup(cfg *config.Config, log hclog.Logger, req backupRequest, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log = log.Named("backup")
	st, err := backup.OpenStore(cfg, log)
	if err == nil && st == nil {
		err = errNoStore
	}
	if err != nil {
		fmt.Fprintf(stderr, "backup %s: %v\n", req.Action, err)
		return exitFailure
	}
	run := map[string]func(context.Context, *config.Config, hclog.Logger, store.Store, backupRequest, io.Writer, io.Writer) error{
		"now": backupNow, "list": backupList, "restore": backupRestore, "delete": backupDelete,
		"decrypt": backupDecrypt,
	}[req.Action]
	if run == nil {
		fmt.Fprintf(stderr, "backup: unknown action %q\n", req.Action)
		return exitUsage
	}
	if err := run(ctx, cfg, log, st, req, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "backup %s: %v\n", req.Action, err)
		return exitFailure
	}
	return exitOK
}

// terminal returns w when it is a terminal, for progress lines.
func terminal(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return w
}

func localRedis(cfg *config.Config) *redisnode.Client {
	return redisnode.Dial(localAddr(cfg, cfg.RedisPort), cfg.RedisPassword)
}

func openRegistry(cfg *config.Config, log hclog.Logger) (*registry.Registry, error) {
	reg, err := registry.New(registry.Options{API: cfg.Consul, Log: log})
	if err != nil {
		return nil, fmt.Errorf("Consul client: %w", err)
	}
	return reg, nil
}

// backupNow takes a backup of the local redis under the cluster's backup
// lock, whatever BACKUP_TTL says, and records it as last-backup.
func backupNow(ctx context.Context, cfg *config.Config, log hclog.Logger, st store.Store, _ backupRequest, stdout, stderr io.Writer) error {
	reg, err := openRegistry(cfg, log)
	if err != nil {
		return err
	}
	rc := localRedis(cfg)
	defer rc.Close()
	holder, _ := os.Hostname()
	sch, err := backup.NewScheduler(backup.SchedulerOptions{
		Backup: backup.Options{Redis: rc, DataDir: cfg.RedisDataDir, Store: st, Compression: cfg.BackupCompression,
			Encryption: cfg.BackupEncryption, StallTimeout: cfg.BackupStallTimeout, Progress: terminal(stderr)},
		Registry: reg, Node: backup.RedisNodeState(rc), Holder: holder,
		Interval: cfg.BackupInterval, TTL: cfg.BackupTTL, Keep: cfg.BackupKeep, Log: log,
		Retain: chainRetention(st, reg, log.Named("pitr")),
	})
	if err != nil {
		return err
	}
	info, err := sch.BackupNow(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\t%d bytes\tsha256 %s\n", info.Name, info.Size, info.Meta.SHA256)
	return nil
}

// listEntry is one line of `backup list --json`.
type listEntry struct {
	Name        string      `json:"name"`
	Time        time.Time   `json:"time"`
	Size        int64       `json:"size"`
	SHA256      string      `json:"sha256,omitempty"`
	Compression string      `json:"compression"`
	Encryption  string      `json:"encryption"` // "age" or "" (also in the name: .age)
	Status      string      `json:"status"`     // good, legacy (no sidecar) or bad: reason
	LastBackup  bool        `json:"last_backup"`
	Meta        *store.Meta `json:"meta,omitempty"`
}

// backupList prints every backup, oldest first, marking last-backup, then
// every point-in-time chain's window ({"backups": [...], "chains": [...]}
// with --json).
func backupList(ctx context.Context, cfg *config.Config, log hclog.Logger, st store.Store, req backupRequest, stdout, stderr io.Writer) error {
	list, err := st.List(ctx)
	if err != nil {
		return err
	}
	last := ""
	if reg, err := openRegistry(cfg, log); err == nil {
		if lb, found, err := backup.ReadLast(ctx, reg); err != nil {
			fmt.Fprintf(stderr, "warning: cannot tell which backup is last-backup: %v\n", err)
		} else if found {
			last = lb.Name
		}
	}
	entries := make([]listEntry, 0, len(list))
	for _, i := range list {
		entries = append(entries, entryOf(i, last))
	}
	chains, err := listChainEntries(ctx, st)
	if err != nil {
		fmt.Fprintf(stderr, "warning: cannot list point-in-time chains: %v\n", err)
		chains = []chainEntry{}
	}
	if req.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(listOutput{Backups: entries, Chains: chains})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTIME\tSIZE\tCOMPRESSION\tENCRYPTION\tSTATUS\tSHA256\tLAST")
	for _, e := range entries {
		mark := ""
		if e.LastBackup {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Time.Format(time.RFC3339), e.Size,
			e.Compression, cmp.Or(e.Encryption, "none"), e.Status, e.SHA256, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printChains(stdout, chains)
}

func entryOf(i store.Info, last string) listEntry {
	t, comp, _ := store.ParseName(i.Name)
	e := listEntry{Name: i.Name, Time: t, Size: i.Size, Compression: comp, Status: "good",
		LastBackup: i.Name == last, Meta: i.Meta}
	if store.Encrypted(i.Name) {
		e.Encryption = crypt.Scheme
	}
	switch {
	case i.MetaErr != nil:
		e.Status = "bad: " + i.MetaErr.Error()
	case i.Meta == nil:
		e.Status = "legacy"
	case !i.Good():
		e.Status = fmt.Sprintf("bad: size %d, sidecar says %d", i.Size, i.Meta.Size)
	default:
		e.SHA256, e.Time = i.Meta.SHA256, i.Meta.Created
	}
	return e
}
