package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/devcluster"
)

// defaultDevDir is dev's state directory unless --dir says otherwise.
const defaultDevDir = ".redis-autopilot-dev"

// runDev runs a local cluster of req.Nodes nodes on this machine until
// SIGINT/SIGTERM (see package devcluster).
func runDev(cfg *config.Config, _ hclog.Logger, req request, stdout, stderr io.Writer) int {
	paths, err := devcluster.FindBinaries(exec.LookPath)
	if err != nil {
		fmt.Fprintf(stderr, "redis-autopilot dev: %v\n", err)
		return exitFailure
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "redis-autopilot dev: find this program's path for the nodes: %v\n", err)
		return exitFailure
	}
	dir := req.Dir
	if dir == "" {
		dir = defaultDevDir
	}
	layout, err := devcluster.NewLayout(dir, req.Nodes, req.Offset)
	if err != nil {
		fmt.Fprintf(stderr, "redis-autopilot dev: %v\n", err)
		return exitUsage
	}
	err = devcluster.Run(context.Background(), devcluster.Options{
		Layout: layout, Binary: self, Consul: paths["consul"], LogLevel: cfg.LogLevel, Out: stdout,
	})
	if err != nil {
		fmt.Fprintf(stderr, "redis-autopilot dev: %v\n", err)
		return exitFailure
	}
	return exitOK
}
