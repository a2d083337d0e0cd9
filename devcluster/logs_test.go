package devcluster

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// TestChildLogsRoutesOutput runs real commands through a supervisor whose
// logger is childLogs: a node's lines land verbatim in its own writer, and
// any other child's lines in the supervisor's log.
func TestChildLogsRoutesOutput(t *testing.T) {
	var node, base bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &base, Level: hclog.Info})
	sup, err := supervisor.New(supervisor.Options{Log: childLogs{Logger: log, files: map[string]io.Writer{"node1": &node}}, NoSignals: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); <-sup.Done() })
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	lines := "2026-01-02T15:04:05.000Z [INFO]  node: started\nsecond line"
	for _, name := range []string{"node1", "other"} {
		if _, err := sup.Run(ctx, supervisor.Command{Name: name, Path: "printf", Args: []string{"%s\n", lines}}); err != nil {
			t.Fatalf("run %s: %v", name, err)
		}
	}
	if node.String() != lines+"\n" {
		t.Errorf("node1's writer got %q, want %q", node.String(), lines+"\n")
	}
	if !strings.Contains(base.String(), "other: second line") || strings.Contains(base.String(), "node1") {
		t.Errorf("supervisor log:\n%s", base.String())
	}
}
