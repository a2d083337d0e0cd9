// Command redis-autopilot is PID 1 of a Redis container: it supervises
// redis-server, redis-sentinel and optionally a Consul agent, and runs
// Redis HA with Consul and Sentinel. See `redis-autopilot help`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/logging"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

// Exit codes of every command.
const (
	exitOK      = 0 // done; for health: redis and sentinel answer
	exitFailure = 1 // the command ran and failed; for health: unhealthy
	exitUsage   = 2 // bad arguments or configuration; nothing was started
)

func main() {
	os.Exit(Run(os.Args[1:], os.Stdout, os.Stderr))
}

// Run runs the command line args (without the program name) with the
// process environment and returns the exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	return run(args, os.LookupEnv, stdout, stderr)
}

// run is Run with the environment passed in, for tests.
func run(args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	name, rest := "run", args
	if len(args) > 0 && (isHelp(args[0]) || !strings.HasPrefix(args[0], "-")) {
		name, rest = args[0], args[1:]
	}
	switch {
	case name == "help" || isHelp(name):
		writeUsage(stdout)
		return exitOK
	case name == "version":
		fmt.Fprintf(stdout, "redis-autopilot %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	}
	cmd := findCommand(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "redis-autopilot: unknown command %q (see redis-autopilot help)\n", name)
		return exitUsage
	}
	req, rest, err := cmd.parse(rest)
	if err != nil {
		fmt.Fprintf(stderr, "redis-autopilot %s: %v (usage: redis-autopilot %s)\n", name, err, cmd.synopsis)
		return exitUsage
	}
	cfg, err := config.Load(rest, lookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		writeUsage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "redis-autopilot: %v\n", err)
		return exitUsage
	}
	log, err := logging.New(logging.Options{Level: cfg.LogLevel, JSON: cfg.LogJSON, Output: stderr,
		Redactor: logging.NewRedactor(cfg.Secrets...)})
	if err != nil {
		fmt.Fprintf(stderr, "redis-autopilot: %v\n", err)
		return exitUsage
	}
	return cmd.run(cfg, log, req, stdout, stderr)
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// writeUsage writes the commands and every configuration setting.
func writeUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: redis-autopilot [command] [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-42s %s\n", c.synopsis, c.help)
	}
	fmt.Fprintf(w, "  %-42s %s\n", "version", "print the version")
	fmt.Fprintf(w, "  %-42s %s\n", "help", "this text (also -h, --help)")
	fmt.Fprintln(w, "\nEvery command but version and help takes the configuration flags below.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 failure (health: unhealthy), 2 bad arguments or configuration.")
	fmt.Fprintln(w)
	config.Usage(w)
}
