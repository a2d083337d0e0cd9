package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestUserLinesOnceThroughSentinelRewrites: SENTINEL_CONFIG_EXTRA is in
// the kept sentinel.conf once after each start, however Sentinel rewrote
// it (`LogLevel  VERBOSE` becomes `loglevel verbose`, a quoted path loses
// or gains its quotes), and a line the user changed or removed is gone
// from it. Real redis-sentinel rewrites the file (SENTINEL FLUSHCONFIG)
// between the starts. Before, a line matched by its text was appended
// again on every start.
func TestUserLinesOnceThroughSentinelRewrites(t *testing.T) {
	bin := harness.NeedBinary(t, "redis-sentinel")
	dir := harness.TempDir(t, "userlines-")
	path := filepath.Join(dir, "sentinel.conf")
	port := harness.FreePort(t)
	base := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %q\nsentinel resolve-hostnames no\nsentinel monitor mymaster 127.0.0.1 %d 1\n",
		port, dir, harness.FreePort(t))
	if err := os.WriteFile(path, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	starts := []struct {
		lines []string
		want  map[string]string // directive key -> the one line wanted; "" none
	}{
		{[]string{"LogLevel  VERBOSE", "sentinel deny-scripts-reconfig yes", `latency-tracking-info-percentiles "50"  99`},
			map[string]string{"loglevel": "loglevel verbose", "sentinel deny-scripts-reconfig": "sentinel deny-scripts-reconfig yes"}},
		{[]string{"LogLevel  VERBOSE", "sentinel deny-scripts-reconfig yes", `latency-tracking-info-percentiles "50"  99`},
			map[string]string{"loglevel": "loglevel verbose", "latency-tracking-info-percentiles": "latency-tracking-info-percentiles 50 99"}},
		{[]string{"loglevel warning", "sentinel deny-scripts-reconfig yes"},
			map[string]string{"loglevel": "loglevel warning", "latency-tracking-info-percentiles": "latency-tracking-info-percentiles 50 99 99.9"}},
		{[]string{"loglevel warning"},
			map[string]string{"loglevel": "loglevel warning", "sentinel deny-scripts-reconfig": ""}},
	}
	for i, s := range starts {
		if err := appendUserLines(path, s.lines); err != nil {
			t.Fatal(err)
		}
		written := linesByKey(t, path)
		for _, l := range s.lines {
			if k := directiveKey(l); len(written[k]) != 1 {
				t.Errorf("start %d: sentinel.conf as written for Sentinel has %s %d times: %q", i+1, k, len(written[k]), written[k])
			}
		}
		p := harness.StartProcess(t, harness.ProcessOptions{Name: "redis-sentinel", Path: bin, Args: []string{path},
			LogPath: filepath.Join(dir, "sentinel.log")})
		c := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		harness.Eventually(t, 20*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return c.FlushConfig(ctx).Err()
		})
		c.Close()
		p.Stop()
		got := linesByKey(t, path)
		for k, w := range s.want {
			if (w == "" && len(got[k]) != 0) || (w != "" && (len(got[k]) != 1 || got[k][0] != w)) {
				t.Errorf("start %d: after Sentinel's rewrite, %s lines %q, want %q", i+1, k, got[k], w)
			}
		}
		if b, _ := os.ReadFile(path); strings.Count(string(b), userMark) != 1 {
			t.Errorf("start %d: want one %q mark:\n%s", i+1, userMark, b)
		}
	}
}

// linesByKey reads a sentinel.conf's directive lines by directiveKey.
func linesByKey(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k := directiveKey(l); k != "" && !strings.HasPrefix(l, "#") {
			got[k] = append(got[k], l)
		}
	}
	return got
}
