package main

// STUB: placeholder for the node's PID-1 supervisor; the lead owns and
// replaces this file.

import (
	"fmt"
	"io"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/hashicorp/go-hclog"
)

// runNode is the container entrypoint: it runs this node until it is
// told to stop, and returns the exit code.
func runNode(cfg *config.Config, log hclog.Logger, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "run: not implemented yet")
	return exitFailure
}
