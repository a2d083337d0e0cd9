package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/devcluster"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// devRun is one `redis-autopilot dev` process of a test, on ports shifted
// clear of everything else.
type devRun struct {
	t      *testing.T
	layout devcluster.Layout
	out    string // its stdout and stderr
	proc   *harness.Process
}

func startDev(t *testing.T, count int) *devRun {
	t.Helper()
	for _, b := range []string{"consul", "redis-server", "redis-sentinel"} {
		harness.NeedBinary(t, b)
	}
	bin := nodes.Binary(t)
	dir := harness.TempDir(t, "dev-")
	offset, layout := freeLayout(t, filepath.Join(dir, "state"), count)
	d := &devRun{t: t, layout: layout, out: filepath.Join(dir, "dev.out")}
	d.proc = harness.StartProcess(t, harness.ProcessOptions{Name: "dev", LogPath: d.out, Path: bin,
		Args: []string{"dev", "--nodes", strconv.Itoa(count), "--dir", layout.Dir, "--port-offset", strconv.Itoa(offset)},
		Env:  []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dev output:\n%s", d.proc.Tail(60))
		}
		killLeftovers(layout)
	})
	return d
}

// freeLayout picks a port offset whose every port is free now.
func freeLayout(t *testing.T, dir string, nodes int) (int, devcluster.Layout) {
	t.Helper()
	for offset := 10000 + harness.FreePort(t)%5000; offset < 38000; offset += 1013 {
		l, err := devcluster.NewLayout(dir, nodes, offset)
		if err != nil {
			t.Fatal(err)
		}
		if devcluster.CheckPorts(l) == nil {
			return offset, l
		}
	}
	t.Fatal("no port offset with every port free")
	return 0, devcluster.Layout{}
}

func (d *devRun) output() string {
	b, _ := os.ReadFile(d.out)
	return string(b)
}

// wait waits for the process to exit and returns its exit code.
func (d *devRun) wait(timeout time.Duration) int {
	d.t.Helper()
	select {
	case <-d.proc.Done():
	case <-time.After(timeout):
		d.t.Fatalf("dev did not exit within %s", timeout)
	}
	return d.proc.ExitCode()
}

// ready matches the live view's line for one master and two replicas.
var ready = regexp.MustCompile(`consul: master node\d (127\.0\.0\.1:\d+) \| replicas passing: node\d node\d \|`)

// TestDevCluster runs `dev --nodes 3`, waits for one master and two
// replicas in its output and in Consul, then stops it with SIGINT: exit 0
// and no process of it left.
func TestDevCluster(t *testing.T) {
	d := startDev(t, 3)
	var master string
	harness.Eventually(t, 90*time.Second, func() error {
		m := ready.FindStringSubmatch(d.output())
		if m == nil {
			return fmt.Errorf("no line with one master and two replicas passing yet")
		}
		master = m[1]
		return nil
	})
	consul, err := api.NewClient(&api.Config{Address: d.layout.ConsulAddr()})
	if err != nil {
		t.Fatal(err)
	}
	masters, replicas := passing(t, consul, "redis"), passing(t, consul, "redis-replica")
	if len(masters) != 1 || masters[0] != master || len(replicas) != 2 {
		t.Fatalf("Consul passing: redis %v, redis-replica %v; output named master %s", masters, replicas, master)
	}
	out := d.output()
	n1 := d.layout.Nodes[0]
	for _, want := range []string{
		fmt.Sprintf("redis-cli -p %d SENTINEL get-master-addr-by-name mymaster", n1.SentinelPort),
		fmt.Sprintf("redis-cli -p %d SENTINEL failover mymaster", n1.SentinelPort),
		"http://" + d.layout.ConsulAddr() + "/v1/health/service/redis?passing",
		"http://" + d.layout.ConsulAddr() + "/ui", n1.LogPath,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("piped output has terminal escapes")
	}
	if fi, err := os.Stat(n1.LogPath); err != nil || fi.Size() == 0 || strings.Contains(out, "[INFO]  node:") {
		t.Errorf("node1's log is not in its file alone: %v %v", fi, err)
	}
	if err := d.proc.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(90 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT, want 0", code)
	}
	if left := leftovers(d.layout); len(left) > 0 {
		t.Fatalf("processes left running: %v", left)
	}
	if !strings.Contains(d.output(), "stopped: nothing left running") {
		t.Errorf("output does not say everything stopped")
	}
}

// TestDevSecondInterruptKills sends SIGINT twice as soon as the nodes run:
// everything is killed at once, exit 1, nothing left.
func TestDevSecondInterruptKills(t *testing.T) {
	d := startDev(t, 2)
	harness.Eventually(t, 60*time.Second, func() error {
		if !strings.Contains(d.output(), "node2  ") {
			return fmt.Errorf("no node line yet")
		}
		if len(leftovers(d.layout)) < 8 { // dev, consul, two nodes, each with redis and sentinel
			return fmt.Errorf("processes %v", leftovers(d.layout))
		}
		return nil
	})
	for i := 0; i < 2; i++ {
		if err := d.proc.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, 5*time.Second, func() error {
			if !strings.Contains(d.output(), "stopping:") {
				return fmt.Errorf("no stopping line yet")
			}
			return nil
		})
	}
	if code := d.wait(15 * time.Second); code != exitFailure {
		t.Fatalf("exit code %d after two SIGINTs, want %d", code, exitFailure)
	}
	if left := leftovers(d.layout); len(left) > 0 {
		t.Fatalf("processes left running: %v", left)
	}
	if !strings.Contains(d.output(), "killed at the second stop request") {
		t.Errorf("output does not say it killed everything")
	}
}

func passing(t *testing.T, c *api.Client, name string) []string {
	t.Helper()
	entries, _, err := c.Health().Service(name, "", true, nil)
	if err != nil {
		t.Fatalf("list %s: %v", name, err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port)))
	}
	return out
}

// leftovers lists the live processes of a dev cluster: those whose command
// line or environment names its state directory, or whose command line
// names one of its redis or sentinel addresses or its Consul HTTP port.
func leftovers(l devcluster.Layout) []string {
	mine := map[string]bool{}
	for _, n := range l.Nodes {
		mine["127.0.0.1:"+strconv.Itoa(n.RedisPort)] = true
		mine["127.0.0.1:"+strconv.Itoa(n.SentinelPort)] = true
	}
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil || strings.Contains(string(stat[strings.LastIndexByte(string(stat), ')')+1:]), " Z ") {
			continue // gone, or a zombie
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		args := strings.Fields(strings.ReplaceAll(string(cmdline), "\x00", " "))
		hit := strings.Contains(string(cmdline), l.Dir) || strings.Contains(string(environ), l.Dir)
		for i, a := range args {
			hit = hit || mine[a] || (a == "-http-port" && i+1 < len(args) && args[i+1] == strconv.Itoa(l.ConsulHTTP))
		}
		if hit {
			out = append(out, e.Name()+" "+strings.Join(args, " "))
		}
	}
	return out
}

// killLeftovers SIGKILLs what a failed test left running.
func killLeftovers(l devcluster.Layout) {
	for _, p := range leftovers(l) {
		pid, _ := strconv.Atoi(strings.Fields(p)[0])
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// TestDevMissingBinaries runs dev with a PATH that lacks some of what it
// needs: a clear message naming each missing program and its install
// command, exit 1, and no state directory made.
func TestDevMissingBinaries(t *testing.T) {
	bin := nodes.Binary(t)
	tests := []struct {
		name    string
		have    []string
		want    []string
		notWant string
	}{
		{"no consul", []string{"redis-server", "redis-sentinel"}, []string{"consul", "make deps"}, "redis-server"},
		{"nothing", nil, []string{"consul", "make deps", "apt-get install -y redis-server", "apt-get install -y redis-sentinel"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pathDir := t.TempDir()
			for _, h := range tt.have {
				if err := os.Symlink(harness.NeedBinary(t, h), filepath.Join(pathDir, h)); err != nil {
					t.Fatal(err)
				}
			}
			state := filepath.Join(t.TempDir(), "state")
			cmd := exec.Command(bin, "dev", "--dir", state)
			cmd.Env = []string{"PATH=" + pathDir}
			out, err := cmd.CombinedOutput()
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != exitFailure {
				t.Fatalf("exit %v, want %d:\n%s", err, exitFailure, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.notWant != "" && strings.Contains(string(out), tt.notWant) {
				t.Errorf("output names %q, which is there:\n%s", tt.notWant, out)
			}
			if _, err := os.Stat(state); !os.IsNotExist(err) {
				t.Errorf("state directory made (%v) though nothing could run", err)
			}
		})
	}
}
