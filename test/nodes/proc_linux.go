package nodes

import (
	"fmt"
	"os"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// ChildPids lists the node supervisor's children whose command name
// (/proc/PID/comm) is comm, e.g. "redis-server".
func (n *Node) ChildPids(comm string) []int {
	if n.Proc == nil || n.Proc.Exited() {
		return nil
	}
	comm = harness.Program(comm)
	var out []int
	for _, p := range ChildrenOf(n.Proc.Pid()) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p))
		if err == nil && strings.TrimSpace(string(b)) == comm && !isZombie(p) {
			out = append(out, p)
		}
	}
	return out
}

// Zombies lists the node's exited but unreaped processes: the supervisor's
// descendants in state Z.
func (n *Node) Zombies() []int {
	if n.Proc == nil || n.Proc.Exited() {
		return nil
	}
	var out []int
	todo := []int{n.Proc.Pid()}
	for len(todo) > 0 {
		p := todo[0]
		todo = todo[1:]
		for _, k := range ChildrenOf(p) {
			if isZombie(k) {
				out = append(out, k)
			} else {
				todo = append(todo, k)
			}
		}
	}
	return out
}
