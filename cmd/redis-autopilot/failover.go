package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// parseFailover takes `failover [--to ADDR]`.
func parseFailover(args []string) (request, []string, error) {
	var req request
	fs := newFlagSet("failover")
	fs.StringVar(&req.To, "to", "", "the replica to promote, ip:port")
	rest, err := takeFlags(fs, args)
	if err == nil && req.To != "" {
		if _, _, serr := net.SplitHostPort(req.To); serr != nil {
			err = fmt.Errorf("--to %q: want the replica's ip:port as the master's INFO lists it: %v", req.To, serr)
		}
	}
	return req, rest, err
}

// runFailover is the planned failover (lifecycle.PlannedFailover): it
// prints the new master and exits 0, or says why not and exits 1 with the
// old master serving. SIGINT and SIGTERM cancel it the same way.
func runFailover(cfg *config.Config, log hclog.Logger, to string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log = log.Named("failover")
	reg, err := registry.New(registry.Options{API: cfg.Consul, Log: log.Named("registry")})
	if err != nil {
		fmt.Fprintln(stderr, "failover:", err)
		return exitFailure
	}
	host, _ := os.Hostname()
	newMaster, err := lifecycle.PlannedFailover(ctx, lifecycle.PlannedOptions{
		Log: log, Reg: reg, Password: cfg.RedisPassword,
		Sentinel: localAddr(cfg, cfg.SentinelPort), To: to,
		By: fmt.Sprintf("%s pid %d", host, os.Getpid()),
	})
	if err != nil {
		fmt.Fprintln(stderr, "failover:", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, newMaster)
	return exitOK
}
