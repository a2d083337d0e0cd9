package devcluster

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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

// descendants lists the live (not zombie) processes below root, read from
// /proc.
func descendants(root int) []int {
	children := map[int][]int{}
	live := map[int]bool{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
		live[pid] = f[0] != "Z"
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
