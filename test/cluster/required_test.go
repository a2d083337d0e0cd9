package cluster

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/proc"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestRequiredChildGivingUpStopsTheNode: redis-server is a required child
// (supervisor.ChildSpec.Required), so when the supervisor gives it up
// crash looping (killed twice within RESTART_MIN_UPTIME, RESTART_LIMIT=1)
// the node stops and exits with its status, 128+SIGKILL.
func TestRequiredChildGivingUpStopsTheNode(t *testing.T) {
	c := nodes.New(t, "RESTART_LIMIT=1", "RESTART_MIN_UPTIME=1m", "RESTART_BACKOFF_MAX=1s")
	n := c.StartNodes(1)[0]
	c.WaitTopology(60*time.Second, n.Addr(), 0, 1)
	giveUpRedisServer(t, n)
	select {
	case <-n.Proc.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("the node did not stop after redis-server was given up:\n%s", n.Proc.Tail(30))
	}
	log := n.Log()
	if code := n.Proc.ExitCode(); code != 128+int(syscall.SIGKILL) {
		t.Errorf("exit code %d, want %d (redis-server's SIGKILL)", code, 128+int(syscall.SIGKILL))
	}
	if !strings.Contains(log, "a required child ended for good") {
		t.Errorf("the log does not say why the node stopped:\n%s", n.Proc.Tail(30))
	}
	t.Logf("node exited %d", n.Proc.ExitCode())
}

// giveUpRedisServer SIGKILLs node n's redis-server twice, the second time
// as soon as it was restarted: with RESTART_LIMIT=1 and a long
// RESTART_MIN_UPTIME the supervisor gives it up crash looping.
func giveUpRedisServer(t *testing.T, n *nodes.Node) {
	t.Helper()
	server := func(not int) (int, error) {
		for _, pid := range nodes.ChildrenOf(n.Proc.Pid()) {
			if st, err := proc.Read(pid); err == nil && strings.HasSuffix(st.Comm, "-server") && pid != not && !st.Zombie() {
				return pid, nil
			}
		}
		return 0, errors.New("no redis-server child running")
	}
	var first int
	nodes.WaitFor(t, 10*time.Second, func() (err error) { first, err = server(0); return err })
	syscall.Kill(first, syscall.SIGKILL)
	var second int
	nodes.WaitFor(t, 15*time.Second, func() (err error) { second, err = server(first); return err })
	syscall.Kill(second, syscall.SIGKILL)
	t.Logf("redis-server %d and %d killed", first, second)
}
