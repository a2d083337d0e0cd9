package main

// STUB: placeholder until the status command is written; the lead
// replaces this file.

import (
	"fmt"
	"io"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/hashicorp/go-hclog"
)

// runStatus prints the node's role, master, what Consul and Sentinel
// say, the last backup and the last decision; as JSON when asJSON.
func runStatus(cfg *config.Config, log hclog.Logger, asJSON bool, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "status: not implemented yet")
	return exitFailure
}
