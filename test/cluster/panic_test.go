package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestPanicEndsInTheOrderedStop builds the binary with the panictest tag
// and makes it panic, after SIGUSR1, in the node's goroutine (its
// reconcile loop) and in run's own goroutine (its request loop): each time
// the node deregisters, redis makes its final save, no child is left
// behind, and the exit code is 1. Before, a panic killed PID 1 at once and
// left redis and sentinel running, registered, without a final save. A
// panic after a required child ended for good (child-failed) still exits
// with that child's status, as without the panic; before, it exited 1.
//
// REDIS_AUTOPILOT_PANICTEST_BINARY names a binary built so beforehand
// (make matrix's root filesystem has no Go).
func TestPanicEndsInTheOrderedStop(t *testing.T) {
	t.Parallel()
	bin := os.Getenv("REDIS_AUTOPILOT_PANICTEST_BINARY")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "redis-autopilot-panictest")
		build := exec.Command("go", "build", "-tags", "panictest", "-o", bin, "./cmd/redis-autopilot")
		build.Dir = harness.RepoRoot(t)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build with -tags panictest: %v\n%s", err, out)
		}
	}
	for _, where := range []string{"reconcile", "status"} {
		t.Run(where, func(t *testing.T) {
			c := nodes.New(t)
			n, armed := startPanicNode(t, c, bin, where)
			if err := n.Client.Set(nodes.Ctx(t, 5*time.Second), "kept", "by the final save", 0).Err(); err != nil {
				t.Fatal(err)
			}
			children := nodes.ChildrenOf(n.Proc.Pid())
			if err := os.WriteFile(armed, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := n.Proc.Signal(syscall.SIGUSR1); err != nil { // status, and a tick at once
				t.Fatal(err)
			}
			checkStoppedInOrder(t, c, n, children, 1, "test panic at "+where, "DB saved on disk")
		})
	}
	t.Run("child-failed", func(t *testing.T) {
		c := nodes.New(t, "RESTART_LIMIT=1", "RESTART_MIN_UPTIME=1m", "RESTART_BACKOFF_MAX=1s")
		n, armed := startPanicNode(t, c, bin, "child-failed")
		children := nodes.ChildrenOf(n.Proc.Pid())
		if err := os.WriteFile(armed, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		giveUpRedisServer(t, n)
		checkStoppedInOrder(t, c, n, children, 128+int(syscall.SIGKILL), "test panic at child-failed", "a required child ended for good")
	})
}

// startPanicNode starts a node of c running bin, to panic at where once
// the file armed exists, and waits until it is master.
func startPanicNode(t *testing.T, c *nodes.Cluster, bin, where string) (n *nodes.Node, armed string) {
	t.Helper()
	armed = filepath.Join(t.TempDir(), "armed")
	n = c.AddNode()
	n.Binary = bin
	n.Env = append(n.Env, "REDIS_AUTOPILOT_TEST_PANIC="+where, "REDIS_AUTOPILOT_TEST_PANIC_ARMED="+armed)
	n.Start()
	c.WaitTopology(40*time.Second, n.Addr(), 0, 1)
	return n, armed
}

// checkStoppedInOrder waits for node n to exit after its panic and checks
// the ordered stop: the log says so (and each of wants), the exit code is
// code, nothing is left registered, and none of children outlived it.
func checkStoppedInOrder(t *testing.T, c *nodes.Cluster, n *nodes.Node, children []int, code int, wants ...string) {
	t.Helper()
	select {
	case <-n.Proc.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("the node did not exit within 60s of the panic:\n%s", n.Proc.Tail(40))
	}
	log := n.Log()
	for _, want := range append([]string{"stopping in order", `registry changed: from=registered to="(none)"`}, wants...) {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, n.Proc.Tail(40))
		}
	}
	if got := n.Proc.ExitCode(); got != code {
		t.Errorf("exit code %d, want %d", got, code)
	}
	if left := c.Instances("redis", false); len(left) != 0 {
		t.Errorf("still registered as redis: %v", left)
	}
	if left := c.Instances("redis-sentinel", false); len(left) != 0 {
		t.Errorf("still registered as redis-sentinel: %v", left)
	}
	for _, p := range children {
		if syscall.Kill(p, 0) == nil {
			t.Errorf("child %d outlived the node", p)
		}
	}
}
