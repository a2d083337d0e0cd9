// Package proc reads processes from /proc: the one parser of
// /proc/<pid>/stat that the dev cluster and the tests share.
package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Stat is what /proc/<pid>/stat says of a process.
type Stat struct {
	Pid, PPid int
	Comm      string // the name in parentheses, which may hold spaces
	State     string // "R", "S", "Z", ...
}

// Zombie reports whether the process has exited and not been reaped.
func (s Stat) Zombie() bool { return s.State == "Z" }

// Read returns the stat of pid; an error when it is gone.
func Read(pid int) (Stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return Stat{}, fmt.Errorf("/proc/%d/stat: no (comm)", pid)
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 2 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Stat{}, fmt.Errorf("/proc/%d/stat: ppid %q", pid, f[1])
	}
	return Stat{Pid: pid, PPid: ppid, Comm: s[open+1 : closing], State: f[0]}, nil
}

// All returns every process that could be read.
func All() []Stat {
	entries, _ := os.ReadDir("/proc")
	var out []Stat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := Read(pid); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// Children lists the pids whose parent is ppid, zombies included.
func Children(ppid int) []int {
	var out []int
	for _, st := range All() {
		if st.PPid == ppid {
			out = append(out, st.Pid)
		}
	}
	return out
}
