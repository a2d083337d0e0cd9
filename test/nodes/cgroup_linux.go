package nodes

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// nftCgroupBase is where nft looks for the paths in `socket cgroupv2`.
const nftCgroupBase = "/sys/fs/cgroup"

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find the cgroup2 mount: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if fields := strings.Fields(pre); len(fields) > 4 {
			return fields[4], nil
		}
	}
	return "", errors.New("no cgroup2 mount in /proc/self/mountinfo")
}

// CgroupsAvailable says why Options.Cgroups cannot work here, or nil.
func CgroupsAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("cgroups need root")
	}
	m, err := cgroup2Mount()
	if err != nil {
		return err
	}
	if _, err := filepath.Rel(nftCgroupBase, m); err != nil || !strings.HasPrefix(m, nftCgroupBase) {
		return fmt.Errorf("cgroup2 is mounted at %s, outside %s where nft looks", m, nftCgroupBase)
	}
	return nil
}

// makeCgroup creates the node's cgroup and removes it at the end of the
// test, killing whatever is still in it.
func (n *Node) makeCgroup(t testing.TB) {
	t.Helper()
	m, err := cgroup2Mount()
	if err != nil {
		t.Fatal(err)
	}
	n.cgroup = filepath.Join(m, fmt.Sprintf("nodes-%d-%s", os.Getpid(), n.Name))
	if err := os.Mkdir(n.cgroup, 0o755); err != nil && !os.IsExist(err) {
		t.Fatalf("create cgroup for %s: %v", n.Name, err)
	}
	t.Cleanup(func() {
		n.Freeze(false)
		harness.Wait(10*time.Second, func() error {
			pids := n.CgroupPids()
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
			if len(pids) > 0 {
				return fmt.Errorf("%d processes left in %s", len(pids), n.cgroup)
			}
			return nil
		})
		os.Remove(n.cgroup)
	})
}

// inCgroup makes o start its program inside the node's cgroup: a shell
// moves itself there, then execs the program (same pid, so no race with
// the children it starts).
func (n *Node) inCgroup(o harness.ProcessOptions) harness.ProcessOptions {
	args := append([]string{"-c", `echo $$ > "$1" || exit 97; shift; exec "$@"`, "sh",
		filepath.Join(n.cgroup, "cgroup.procs"), o.Path}, o.Args...)
	o.Path, o.Args = "/bin/sh", args
	return o
}

// CgroupPids lists the processes in the node's cgroup (nil without one).
func (n *Node) CgroupPids() []int {
	if n.cgroup == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(n.cgroup, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Freeze freezes (true) or thaws (false) every process of the node at
// once through its cgroup, as SIGSTOP to a whole container would.
func (n *Node) Freeze(frozen bool) error {
	if n.cgroup == "" {
		return errors.New("freeze " + n.Name + ": the cluster has no cgroups (Options.Cgroups)")
	}
	v := "0"
	if frozen {
		v = "1"
	}
	if err := os.WriteFile(filepath.Join(n.cgroup, "cgroup.freeze"), []byte(v), 0o644); err != nil {
		return fmt.Errorf("freeze %s: %w", n.Name, err)
	}
	return nil
}

// nftCgroupPath is the node's cgroup as nft's `socket cgroupv2` names it.
func (n *Node) nftCgroupPath() (string, int, error) {
	if n.cgroup == "" {
		return "", 0, errors.New(n.Name + " has no cgroup (Options.Cgroups)")
	}
	m, err := cgroup2Mount()
	if err != nil {
		return "", 0, err
	}
	rel, err := filepath.Rel(nftCgroupBase, n.cgroup)
	if err != nil {
		return "", 0, err
	}
	level, err := filepath.Rel(m, n.cgroup)
	if err != nil {
		return "", 0, err
	}
	return rel, len(strings.Split(level, "/")), nil
}
