package devcluster

import (
	"os"
	"syscall"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/proc"
)

// killDescendants SIGKILLs every descendant of this process, again until
// none is left or 5s pass: the nodes' own children are re-parented to us
// (the supervisor is a child subreaper) when a node dies first, and the
// supervisor's reaper collects them all.
func killDescendants() {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := descendants(os.Getpid())
		if len(pids) == 0 || time.Now().After(deadline) {
			return
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL) // gone already: fine
		}
		time.Sleep(50 * time.Millisecond) // let the reaper collect them before looking again
	}
}

// descendants lists the live (not zombie) processes below root.
func descendants(root int) []int {
	children := map[int][]int{}
	live := map[int]bool{}
	for _, st := range proc.All() {
		children[st.PPid] = append(children[st.PPid], st.Pid)
		live[st.Pid] = !st.Zombie()
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if live[c] {
				out = append(out, c)
			}
			queue = append(queue, c)
		}
	}
	return out
}
