// Package harness starts the real parts the tests run against — a Consul
// agent, redis-server and redis-sentinel — on free loopback ports, and
// stops them when the test ends. A missing binary fails the test with the
// command that installs it.
package harness

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// installHints names the command that brings each binary onto this machine.
var installHints = map[string]string{
	"consul":          "make deps (builds github.com/hashicorp/consul v1.13.9 from tools/consul into /usr/local/bin)",
	"versitygw":       "make deps (builds github.com/versity/versitygw v1.8.0 from tools/versitygw into /usr/local/bin)",
	"redis-server":    "apt-get install -y redis-server",
	"redis-sentinel":  "apt-get install -y redis-sentinel",
	"redis-check-rdb": "apt-get install -y redis-server",
	"redis-check-aof": "apt-get install -y redis-server",
	"unshare":         "apt-get install -y util-linux",
}

// Flavor is REDIS_FLAVOR of the test process: "valkey" runs every test
// against valkey-server, valkey-sentinel and valkey-check-rdb (NeedBinary
// maps the redis-* names), and the cluster tests pass it to the nodes;
// "" or "redis" means redis-*. make matrix sets it.
func Flavor() string { return os.Getenv("REDIS_FLAVOR") }

// Program is name as Flavor() names it: with "valkey", "redis-server" is
// "valkey-server" (also the process's comm); other names are unchanged.
func Program(name string) string {
	if Flavor() == "valkey" && strings.HasPrefix(name, "redis-") {
		return "valkey-" + strings.TrimPrefix(name, "redis-")
	}
	return name
}

// NeedBinary returns the path of name on PATH, or fails the test with the
// command that installs it. With Flavor() "valkey", the redis-* programs
// are their valkey-* namesakes.
func NeedBinary(t testing.TB, name string) string {
	t.Helper()
	hint := installHints[name]
	if p := Program(name); p != name {
		name, hint = p, "apt-get install -y valkey-server valkey-sentinel valkey-tools"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if hint == "" {
			hint = "install it and put it on PATH"
		}
		t.Fatalf("%s is not on PATH: run `%s`", name, hint)
	}
	return p
}

// Ports are picked below the kernel's ephemeral range (32768-60999 on
// Linux): a port the kernel handed out for Listen(":0") can be taken a
// moment later as the source port of any process's outgoing connection,
// and the server started on it fails with "address already in use" (seen
// when test packages run in parallel).
const portLow, portHigh = 10000, 32768

// portLockDir holds one lock file per port handed out: test packages run
// as parallel processes, and each holds an flock on the ports it picked
// until it exits, so no two processes pick the same one.
var portLockDir = filepath.Join(os.TempDir(), "redis-autopilot-test-ports")

// FreePort returns a TCP port that nothing listened on a moment ago, on
// any address, outside the ephemeral range, and that no other test process
// holds. Ports handed out in this process are never handed out twice.
func FreePort(t testing.TB) int {
	t.Helper()
	if err := os.MkdirAll(portLockDir, 0o777); err != nil {
		t.Fatalf("port lock directory: %v", err)
	}
	for i := 0; i < 1000; i++ {
		port := portLow + rand.IntN(portHigh-portLow)
		if !claimPort(port) {
			continue
		}
		if !lockPort(port) {
			continue // another test process has it
		}
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatalf("find a free port in %d-%d: 1000 tries found none", portLow, portHigh-1)
	return 0
}

// lockPort takes an exclusive flock on port's lock file and keeps it (the
// file stays open) until this process exits.
func lockPort(port int) bool {
	f, err := os.OpenFile(filepath.Join(portLockDir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	portsMu.Lock()
	heldPorts = append(heldPorts, f) // never closed: the lock lasts as long as the process
	portsMu.Unlock()
	return true
}

// heldPorts keeps the lock files open (guarded by portsMu).
var heldPorts []*os.File

// Eventually calls f every 50ms until it returns nil, and fails the test
// with f's last error when timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	if err := Wait(timeout, f); err != nil {
		t.Fatal(err)
	}
}

// Wait is Eventually without a test: it returns f's last error, wrapped with
// how long it waited, when timeout passes first.
func Wait(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %s: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TempDir returns a fresh directory removed at the end of the test. Unlike
// t.TempDir its path is short: unix sockets must fit in 108 bytes.
func TempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("make temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// logTail returns the last lines of a log file, for failure messages.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RepoRoot returns the repository's top directory (the one with go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above %s", dir)
		}
		dir = parent
	}
}
