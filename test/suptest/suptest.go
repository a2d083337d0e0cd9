// Package suptest starts a supervisor for a test: the reaper that runs the
// real processes (redis-check-rdb, throwaway redis-servers) a package
// under test starts through it.
package suptest

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// Start starts a supervisor that handles no signals and stops it, with
// its children, when the test ends.
func Start(t testing.TB, log hclog.Logger) *supervisor.Supervisor {
	t.Helper()
	sup, err := supervisor.New(supervisor.Options{Log: log, NoSignals: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sup.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sup.StopAll(context.Background())
		cancel()
		<-sup.Done()
	})
	return sup
}
