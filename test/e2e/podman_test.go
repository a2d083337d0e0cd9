//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ulimits are needed on this machine: podman's defaults make runc's
// setrlimit fail. They are passed to both build and run.
var ulimits = []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"}

// testLabel marks every container and network this package starts, so
// run.sh can remove leftovers of a test that was killed.
const testLabel = "io.redis-autopilot.e2e=1"

// podman runs podman with the runc runtime (crun fails on cgroups here).
type podman struct {
	t testing.TB
}

// run runs podman with args and returns its trimmed stdout; the error carries
// stderr.
func (p podman) run(args ...string) (string, error) {
	p.t.Helper()
	cmd := exec.Command("podman", append([]string{"--runtime", "runc"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, lastLines(stderr.String(), 20))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// must is run that fails the test on error.
func (p podman) must(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// exec runs a command in a running container and returns its output.
func (p podman) exec(container string, cmd ...string) (string, error) {
	p.t.Helper()
	return p.run(append([]string{"exec", container}, cmd...)...)
}

// redisCLI runs redis-cli in a container. redis-cli exits 0 on error
// replies, so a reply starting with ERR is returned as an error.
func (p podman) redisCLI(container string, args ...string) (string, error) {
	p.t.Helper()
	out, err := p.exec(container, append([]string{"redis-cli"}, args...)...)
	if err == nil && (strings.HasPrefix(out, "ERR") || strings.HasPrefix(out, "(error)")) {
		err = fmt.Errorf("redis-cli %s in %s: %s", strings.Join(args, " "), container, out)
	}
	return out, err
}

// step runs f and logs how long it took; the durations are the figures the
// test reports at the end.
type timings struct {
	t     testing.TB
	names []string
	took  map[string]time.Duration
}

func newTimings(t testing.TB) *timings {
	tm := &timings{t: t, took: map[string]time.Duration{}}
	t.Cleanup(func() {
		var parts []string
		for _, n := range tm.names {
			parts = append(parts, fmt.Sprintf("%s=%s", n, tm.took[n].Round(100*time.Millisecond)))
		}
		t.Logf("TIMINGS %s", strings.Join(parts, " "))
	})
	return tm
}

func (tm *timings) step(name string, f func()) {
	tm.t.Helper()
	start := time.Now()
	tm.t.Logf("step %s: start", name)
	defer func() {
		tm.names = append(tm.names, name)
		tm.took[name] = time.Since(start)
		tm.t.Logf("step %s: took %s", name, tm.took[name].Round(100*time.Millisecond))
	}()
	f()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
