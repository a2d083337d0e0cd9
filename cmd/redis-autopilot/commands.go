package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/hashicorp/go-hclog"
)

// request holds a command's own arguments, parsed before the
// configuration flags.
type request struct {
	JSON   bool          // status --json
	Nodes  int           // dev --nodes N
	Dir    string        // dev --dir DIR
	Offset int           // dev --port-offset N
	Backup backupRequest // backup ...
	To     string        // failover --to ADDR
}

// backupRequest is `backup now|list|restore NAME|delete NAME|decrypt NAME`.
type backupRequest struct {
	Action string // "now", "list", "restore", "delete" or "decrypt"
	Name   string // the backup, for restore, delete and decrypt
	Force  bool   // delete --force: even the one last-backup names
	JSON   bool   // list --json
	To     string // restore --to TIME|latest: point-in-time recovery
}

// command is one subcommand: its help line, how to parse its own
// arguments (returning the rest for config.Load) and what runs it.
type command struct {
	name, synopsis, help string
	parse                func(args []string) (request, []string, error)
	run                  func(cfg *config.Config, log hclog.Logger, req request, stdout, stderr io.Writer) int
}

var commands = []*command{
	{name: "run", synopsis: "run", help: "the container entrypoint: PID-1 supervisor (the default)",
		parse: noArgs,
		run: func(cfg *config.Config, log hclog.Logger, _ request, stdout, stderr io.Writer) int {
			return runNode(cfg, log, stdout, stderr)
		}},
	{name: "health", synopsis: "health", help: "exit 0 when the local redis and sentinel answer (Docker HEALTHCHECK)",
		parse: noArgs,
		run: func(cfg *config.Config, log hclog.Logger, _ request, stdout, stderr io.Writer) int {
			return runHealth(cfg, log, stdout, stderr)
		}},
	{name: "status", synopsis: "status [--json]", help: "role, master, what Consul and Sentinel say, last backup, last decision",
		parse: parseStatus,
		run: func(cfg *config.Config, log hclog.Logger, req request, stdout, stderr io.Writer) int {
			return runStatus(cfg, log, req.JSON, stdout, stderr)
		}},
	{name: "failover", synopsis: "failover [--to ADDR]", help: "hand the master role over to a replica, losing no acknowledged write",
		parse: parseFailover,
		run: func(cfg *config.Config, log hclog.Logger, req request, stdout, stderr io.Writer) int {
			return runFailover(cfg, log, req.To, stdout, stderr)
		}},
	{name: "backup", synopsis: "backup now|list|restore NAME|delete NAME|decrypt NAME|restore --to TIME", help: "operator backup commands (list --json; delete --force; restore --to RFC3339|latest; decrypt NAME > dump.rdb)",
		parse: parseBackup,
		run: func(cfg *config.Config, log hclog.Logger, req request, stdout, stderr io.Writer) int {
			return runBackup(cfg, log, req.Backup, stdout, stderr)
		}},
	{name: "dev", synopsis: "dev [--nodes N]", help: "a local cluster on this machine (--dir DIR, --port-offset N)",
		parse: parseDev,
		run: func(cfg *config.Config, log hclog.Logger, req request, stdout, stderr io.Writer) int {
			return runDev(cfg, log, req, stdout, stderr)
		}},
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func noArgs(args []string) (request, []string, error) { return request{}, args, nil }

func parseStatus(args []string) (request, []string, error) {
	var req request
	fs := newFlagSet("status")
	fs.BoolVar(&req.JSON, "json", false, "print JSON")
	rest, err := takeFlags(fs, args)
	return req, rest, err
}

func parseDev(args []string) (request, []string, error) {
	req := request{Nodes: 3}
	fs := newFlagSet("dev")
	fs.IntVar(&req.Nodes, "nodes", req.Nodes, "number of nodes")
	fs.StringVar(&req.Dir, "dir", "", "state directory")
	fs.IntVar(&req.Offset, "port-offset", 0, "added to every port")
	rest, err := takeFlags(fs, args)
	if err == nil && (req.Nodes < 1 || req.Nodes > 9) {
		err = fmt.Errorf("--nodes=%d: must be 1-9", req.Nodes)
	}
	return req, rest, err
}

// parseBackup takes the action and, for restore, delete and decrypt, the
// name.
func parseBackup(args []string) (request, []string, error) {
	var req request
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return req, nil, errors.New("missing action")
	}
	req.Backup.Action, args = args[0], args[1:]
	switch req.Backup.Action {
	case "now", "list":
	case "restore", "delete", "decrypt":
	default:
		return req, nil, fmt.Errorf("unknown action %q", req.Backup.Action)
	}
	fs := newFlagSet("backup")
	fs.BoolVar(&req.Backup.Force, "force", false, "delete even the backup last-backup names")
	fs.BoolVar(&req.Backup.JSON, "json", false, "list as JSON")
	fs.StringVar(&req.Backup.To, "to", "", "restore to a point in time (RFC 3339 or latest)")
	args, err := takeFlags(fs, args)
	if err != nil {
		return req, nil, err
	}
	if req.Backup.To != "" && req.Backup.Action != "restore" {
		return req, nil, errors.New("--to goes with restore only")
	}
	if req.Backup.To != "" {
		if _, err := parseTarget(req.Backup.To); err != nil {
			return req, nil, err
		}
	}
	if (req.Backup.Action == "restore" && req.Backup.To == "") || req.Backup.Action == "delete" || req.Backup.Action == "decrypt" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return req, nil, fmt.Errorf("%s needs the backup's NAME", req.Backup.Action)
		}
		req.Backup.Name, args = args[0], args[1:]
	}
	return req, args, nil
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// takeFlags parses the flags fs defines out of args, wherever they are,
// and returns the other arguments (configuration flags) in order.
func takeFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var own, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if !strings.HasPrefix(a, "-") || f == nil {
			rest = append(rest, a)
			continue
		}
		own = append(own, a)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) && i+1 < len(args) {
			i++
			own = append(own, args[i])
		}
	}
	return rest, fs.Parse(own)
}
