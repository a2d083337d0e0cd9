package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUserConfigRefusedAtStart: a node given directives it owns, or that
// redis itself rejects, exits 2 at once with the reason, having started
// nothing (no config written, Consul never asked: it is unreachable here).
func TestUserConfigRefusedAtStart(t *testing.T) {
	bin := os.Getenv("REDIS_AUTOPILOT_BINARY") // make matrix: no Go inside
	if bin == "" {
		bin = buildBinary(t, "userconf-test")
	}
	for _, tc := range []struct {
		name, extra, sentinel string
		want                  []string
	}{
		{"owned", "maxmemory 64mb\nport 7000", "", []string{`REDIS_CONFIG_EXTRA: line 2: "port" is set by redis-autopilot and cannot be overridden: the node sets it from REDIS_PORT`}},
		{"typo", "maxmemory 64mb\nmaxmemroy 1gb", "", []string{"your configuration was refused; nothing was started", "'maxmemroy 1gb'"}},
		{"sentinel", "", "sentinel deny-scripts-reconfig perhaps", []string{"SENTINEL_CONFIG_EXTRA", "'sentinel deny-scripts-reconfig perhaps'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin, "run")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "REDIS_FLAVOR=" + os.Getenv("REDIS_FLAVOR"),
				"REDIS_DATA_DIR=" + filepath.Join(dir, "data"), "REDIS_CONFIG_DIR=" + filepath.Join(dir, "etc"),
				"CONSUL_HTTP_ADDR=127.0.0.1:1", "HTTP_ADDR=off", "REDIS_CONFIG_INCLUDE_DIR=off",
				"REDIS_CONFIG_EXTRA=" + tc.extra, "SENTINEL_CONFIG_EXTRA=" + tc.sentinel}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != exitUsage {
				t.Fatalf("exit %d (%v); want %d\n%s", code, err, exitUsage, out.String())
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("took %s to refuse", took)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "etc", "redis.conf")); err == nil {
				t.Error("redis.conf was written: the node went on")
			}
		})
	}
}
