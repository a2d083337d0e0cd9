package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
)

// TestHelperRun is not a test: re-executed with REDIS_AUTOPILOT_HELPER=1,
// it is the redis-autopilot command line given after "--".
func TestHelperRun(t *testing.T) {
	if os.Getenv("REDIS_AUTOPILOT_HELPER") != "1" {
		t.Skip("helper process")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(Run(args, os.Stdout, os.Stderr))
}

// SIGTERM during `backup now`'s upload (to Manta, slowed down) cancels it:
// the process exits promptly with a failure, the store lists nothing and
// last-backup is not written; the key never reaches the output.
func TestBackupNowSIGTERM(t *testing.T) {
	consul := harness.StartConsul(t)
	r := harness.StartRedis(t, harness.RedisOptions{})
	pipe := r.Client.Pipeline()
	for i := range 20000 {
		pipe.Set(t.Context(), "k"+strconv.Itoa(i), strings.Repeat(strconv.Itoa(i), 20), 0)
	}
	if _, err := pipe.Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := mantaserver.New(t, mantaserver.Options{})
	_, fp, keyPEM := srv.NewKey(t)
	srv.Inject(mantaserver.Fault{Method: "PUT", PathPrefix: "/" + srv.Account + "/stor/triton-redis/dump-",
		Kind: mantaserver.Slow, Rate: 8 << 10})

	var out strings.Builder
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRun$", "--", "backup", "now")
	cmd.Env = append(os.Environ(), "REDIS_AUTOPILOT_HELPER=1", "REDIS_PORT="+strconv.Itoa(r.Port),
		"REDIS_DATA_DIR="+r.Dir, "CONSUL_HTTP_ADDR="+consul.HTTPAddr, "MANTA_URL="+srv.URL,
		"MANTA_USER="+srv.Account, "MANTA_KEY_ID="+fp, "MANTA_PRIVATE_KEY="+strings.ReplaceAll(keyPEM, "\n", "#"), "LOG_LEVEL=DEBUG")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	err := harness.Wait(30*time.Second, func() error {
		for _, q := range srv.Requests() {
			if q.Method == "PUT" && strings.Contains(q.Path, "/dump-") && !strings.HasSuffix(q.Path, ".json") {
				return nil
			}
		}
		select {
		case <-done:
			return errors.New("exited")
		default:
		}
		return errors.New("no upload yet")
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitFailure {
			t.Fatalf("exit %v, want %d\n%s", err, exitFailure, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("backup now did not stop within 10s of SIGTERM\n%s", out.String())
	}
	if !strings.Contains(out.String(), "signal received") {
		t.Errorf("output does not say the backup was cancelled:\n%s", out.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(keyPEM), "\n")[1:3] {
		if strings.Contains(out.String(), line) {
			t.Error("the Manta key reached the output")
		}
	}
	srv.ClearFaults()
	for _, o := range srv.Objects() {
		if strings.Contains(o, "/dump-") {
			t.Errorf("object %s left after a cancelled upload", o)
		}
	}
	if kv, _, _ := consul.Client.KV().Get("service/redis/last-backup", nil); kv != nil {
		t.Errorf("last-backup written: %q", kv.Value)
	}
}
