package main

// STUB: placeholder until the health check is written; the lead replaces
// this file.

import (
	"fmt"
	"io"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/hashicorp/go-hclog"
)

// runHealth exits exitOK when the local redis and sentinel answer.
func runHealth(cfg *config.Config, log hclog.Logger, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "health: not implemented yet")
	return exitFailure
}
