package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"golang.org/x/sys/unix"
)

// stubbornParent is a shell that starts a grandchild (sleep), writes its pid
// to $GPID, and ignores SIGTERM: only the SIGKILL fallback ends it.
func stubbornParent(t *testing.T, name string) (Command, string) {
	gpid := filepath.Join(t.TempDir(), "gpid")
	cmd := shell(name, `trap "" TERM; sleep 1000 & echo $! > "$GPID.tmp"; mv "$GPID.tmp" "$GPID"; wait`)
	cmd.Env = append(os.Environ(), "GPID="+gpid)
	cmd.StopGrace = 300 * time.Millisecond
	return cmd, gpid
}

// grandchild waits for the pid the stubborn parent wrote and makes sure the
// process does not outlive the test.
func grandchild(t *testing.T, path string) int {
	t.Helper()
	var pid int
	harness.Eventually(t, 10*time.Second, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
	return pid
}

// gone is a wait condition: pid no longer exists (killed and reaped).
func gone(pid int) func() error {
	return func() error {
		if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("grandchild %d still there (kill 0: %v)", pid, err)
		}
		return nil
	}
}

// TestKillReachesTheProcessGroup: the SIGKILL after the grace period goes to
// the child's process group, so what the child started dies with it (it was
// sent to the pid alone, and the grandchild lived on).
func TestKillReachesTheProcessGroup(t *testing.T) {
	t.Run("Child.Stop", func(t *testing.T) {
		s, _ := startSupervisor(t)
		cmd, path := stubbornParent(t, "parent")
		c := addChild(t, s, ChildSpec{Command: cmd, Restart: RestartAlways})
		gpid := grandchild(t, path)
		if err := c.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if st, _ := c.Result(); st.Code() != 137 {
			t.Errorf("child ended with %s, want SIGKILL (137)", st)
		}
		harness.Eventually(t, 5*time.Second, gone(gpid))
	})
	t.Run("Run", func(t *testing.T) {
		s, _ := startSupervisor(t)
		cmd, path := stubbornParent(t, "oneshot")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		type result struct {
			res Result
			err error
		}
		done := make(chan result, 1)
		go func() {
			res, err := s.Run(ctx, cmd)
			done <- result{res, err}
		}()
		gpid := grandchild(t, path)
		cancel()
		r := <-done
		if !errors.Is(r.err, context.Canceled) || r.res.Status.Code() != 137 {
			t.Errorf("Run = %s, %v; want SIGKILL (137) and context.Canceled", r.res.Status, r.err)
		}
		harness.Eventually(t, 5*time.Second, gone(gpid))
	})
}
