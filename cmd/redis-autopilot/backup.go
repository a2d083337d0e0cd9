package main

// STUB: placeholder until the backup commands are written; the lead
// replaces this file.

import (
	"fmt"
	"io"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/hashicorp/go-hclog"
)

// runBackup runs `backup now|list|restore NAME|delete NAME`.
func runBackup(cfg *config.Config, log hclog.Logger, req backupRequest, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "backup: not implemented yet")
	return exitFailure
}
