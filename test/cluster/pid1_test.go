package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/proc"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestBinaryAsPID1 runs the real binary as PID 1 of a new PID namespace,
// as in a container: it runs the node, reaps orphans re-parented to it,
// and on SIGTERM stops in order and exits 0.
func TestBinaryAsPID1(t *testing.T) {
	unshare := harness.NeedBinary(t, "unshare")
	nsenter := harness.NeedBinary(t, "nsenter")
	c := nodes.New(t)
	n := c.AddNode()
	outer := harness.StartProcess(t, harness.ProcessOptions{
		Name: "unshare", LogPath: filepath.Join(n.Dir, "node.log"), Env: n.Env,
		Path: unshare, Args: []string{"--pid", "--fork", "--mount-proc", nodes.Binary(t)},
	})
	var init int
	harness.Eventually(t, 10*time.Second, func() error {
		if outer.Exited() {
			t.Skipf("unshare is not permitted here (needs root): %s", outer.Tail(5))
		}
		kids := nodes.ChildrenOf(outer.Pid())
		if len(kids) != 1 {
			return fmt.Errorf("unshare has %d children", len(kids))
		}
		init = kids[0]
		return nil
	})
	if nspid := nsPID(t, init); nspid != 1 {
		t.Fatalf("the binary is pid %d in its namespace, want 1", nspid)
	}
	c.WaitTopology(30*time.Second, n.Addr(), 0, 1)

	// Orphans in its namespace are re-parented to it; it must reap them.
	// The orphans must not hold nsenter's output pipe, or CombinedOutput
	// would wait until they are gone.
	script := "for i in 1 2 3 4 5 6 7 8 9 10; do (sleep 2 >/dev/null 2>&1 &) ; done"
	if out, err := exec.Command(nsenter, "-t", strconv.Itoa(init), "-p", "-m", "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}
	harness.Eventually(t, 2*time.Second, func() error {
		if got := countChildren(init, "sleep"); got != 10 {
			return fmt.Errorf("%d of 10 orphans re-parented to PID 1", got)
		}
		return nil
	})
	harness.Eventually(t, 10*time.Second, func() error {
		sleeps, zombies := 0, 0
		for _, p := range nodes.ChildrenOf(init) {
			comm, state := procState(p)
			if comm == "sleep" {
				sleeps++
			}
			if state == "Z" {
				zombies++
			}
		}
		if sleeps > 0 || zombies > 0 {
			return fmt.Errorf("PID 1 still has %d sleeping orphans and %d zombies", sleeps, zombies)
		}
		return nil
	})

	if err := syscall.Kill(init, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-outer.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("PID 1 did not exit after SIGTERM:\n%s", outer.Tail(20))
	}
	if code := outer.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, outer.Tail(20))
	}
	if got := c.Instances("redis", false); len(got) != 0 {
		t.Fatalf("still registered after stop: %v", got)
	}
	if log := readFile(filepath.Join(n.Dir, "node.log")); !strings.Contains(log, "Saving the final RDB snapshot") {
		t.Errorf("redis did not save on the way out")
	}
}

func nsPID(t *testing.T, pid int) int {
	t.Helper()
	for _, line := range strings.Split(readFile(fmt.Sprintf("/proc/%d/status", pid)), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "NSpid:" {
			v, _ := strconv.Atoi(f[len(f)-1])
			return v
		}
	}
	t.Fatalf("no NSpid for %d", pid)
	return 0
}

func procState(pid int) (comm, state string) {
	st, _ := proc.Read(pid)
	return st.Comm, st.State
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func countChildren(ppid int, comm string) int {
	n := 0
	for _, p := range nodes.ChildrenOf(ppid) {
		if c, _ := procState(p); c == comm {
			n++
		}
	}
	return n
}
