package main

// STUB: placeholder until the dev cluster is written; the lead replaces
// this file.

import (
	"fmt"
	"io"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/hashicorp/go-hclog"
)

// runDev runs a local cluster of nodes on this machine.
func runDev(cfg *config.Config, log hclog.Logger, nodes int, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "dev: not implemented yet")
	return exitFailure
}
