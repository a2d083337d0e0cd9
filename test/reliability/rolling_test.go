//go:build reliability

package reliability

import (
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// stopGrace is how long a node stopped with SIGTERM may take to exit, as
// a container runtime's stop timeout (Docker's is 10 s).
const stopGrace = 30 * time.Second

// rollingReplacement replaces every node, one at a time and the master
// last, by a new, empty node at a new address, as a rolling update of the
// image does: the old node gets SIGTERM (a master hands over first) and
// exits, then its replacement starts; the next step waits until the
// cluster is whole again. The writers write throughout; the suite counts
// WAIT 1 writes lost and samples with two passing masters, as for every
// scenario. It ends once the sentinels have forgotten the departed nodes,
// so that the next trial can fail over.
func rollingReplacement(s *suite, tr *trial) error {
	order := append(slices.Clone(tr.replicas), tr.master)
	var steps []string
	for i, old := range order {
		n, took, err := s.replaceGracefully(old)
		if err != nil {
			return fmt.Errorf("step %d, %s: %w", i+1, old.Name, err)
		}
		start := time.Now()
		master, _, err := s.waitWhole(recoverTimeout)
		if err != nil {
			return fmt.Errorf("step %d (%s by %s): %w", i+1, old.Name, n.Name, err)
		}
		steps = append(steps, fmt.Sprintf("%s (%s, exit after %s) by %s, whole %s later", old.Name, role(tr, old),
			took.Round(100*time.Millisecond), n.Name, time.Since(start).Round(100*time.Millisecond)))
		tr.master = master
	}
	tr.replicas = slices.DeleteFunc(slices.Clone(s.nodes), func(n *nodes.Node) bool { return n == tr.master })
	start := time.Now()
	if err := s.waitForgotten(forgetAfter + 60*time.Second); err != nil {
		return fmt.Errorf("after replacing every node: %w", err)
	}
	tr.note("replaced %v; the departed forgotten %s later", steps, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// replaceGracefully stops old with SIGTERM, waits for it to exit, and
// starts a new node at a new address in its place. It returns the new
// node and how long old took to exit.
func (s *suite) replaceGracefully(old *nodes.Node) (*nodes.Node, time.Duration, error) {
	s.down[old] = true
	defer delete(s.down, old)
	start := time.Now()
	if err := old.Proc.Signal(syscall.SIGTERM); err != nil {
		return nil, 0, err
	}
	select {
	case <-old.Proc.Done():
	case <-time.After(stopGrace):
		old.KillAll()
		return nil, 0, fmt.Errorf("%s did not exit within %s of SIGTERM", old.Name, stopGrace)
	}
	took := time.Since(start)
	if code := old.Proc.ExitCode(); code != 0 {
		return nil, took, fmt.Errorf("%s exited %d after SIGTERM", old.Name, code)
	}
	old.KillAll() // its Consul agent, as the container's end
	return s.startReplacement(old), took, nil
}
