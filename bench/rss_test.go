package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// rss runs `redis-autopilot backup now` and `backup restore` as child
// processes and reports their peak RSS (VmHWM, see runRSS): zstd, zstd
// encrypted (the key given as BACKUP_ENCRYPTION_KEY_FILE, mode 0600) and
// gzip.
func rss(b *testing.B, rep *report, r *harness.Redis, secret string) {
	bin := os.Getenv("REDIS_AUTOPILOT_BINARY") // make matrix: built beforehand
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "redis-autopilot")
		run(b, nil, "go", "build", "-o", bin, "github.com/autopilotpattern/redis-autopilot/cmd/redis-autopilot")
	}
	consul := harness.StartConsul(b)
	bdir := b.TempDir()
	env := append(os.Environ(), "REDIS_PORT="+strconv.Itoa(r.Port), "REDIS_DATA_DIR="+r.Dir, "BACKUP_DIR="+bdir,
		"CONSUL_HTTP_ADDR="+consul.HTTPAddr, "LOG_LEVEL=WARN")
	_, idle := runRSS(b, bin, env, "backup", "list")
	keyFile := filepath.Join(b.TempDir(), "backup.key")
	if err := os.WriteFile(keyFile, []byte(secret+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, comp := range []string{"zstd", "zstd+age", "gzip"} {
		env := env
		if c, ok := strings.CutSuffix(comp, "+age"); ok {
			env = append(slices.Clip(env), "BACKUP_ENCRYPTION_KEY_FILE="+keyFile)
			comp = c
		}
		out, kb := runRSS(b, bin, append(slices.Clip(env), "BACKUP_COMPRESSION="+comp), "backup", "now")
		name := strings.Fields(out)[0]
		rep.add("| peak RSS `backup now` (%s) | %.1f MB | | idle `backup list`: %.1f MB |", name, float64(kb)/1024, float64(idle)/1024)
		d := harness.TempDir(b, "rss")
		_, kb = runRSS(b, bin, append(env, "REDIS_DATA_DIR="+d, "REDIS_PORT="+strconv.Itoa(harness.FreePort(b))),
			"backup", "restore", name)
		rep.add("| peak RSS `backup restore` (%s) | %.1f MB | | its redis-server child not counted |", name, float64(kb)/1024)
		os.RemoveAll(d)
	}
}

// runRSS runs bin and returns its stdout and its own peak RSS in KiB:
// VmHWM from /proc, polled every 5 ms until it exits (VmHWM only grows, so
// the last reading is the peak up to the final 5 ms). wait4's ru_maxrss
// would not do: it counts the process's reaped children (the private
// redis-server of a restore) and, for a child of this process, starts at
// this process's RSS inherited at fork.
func runRSS(b *testing.B, bin string, env []string, args ...string) (string, int64) {
	var stdout strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var peak int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if kb := vmHWM(status); kb > peak {
			peak = kb
		}
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("%v: %v", args, err)
			}
			return stdout.String(), peak
		case <-tick.C:
		}
	}
}

func vmHWM(status string) int64 {
	raw, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
