// Package nodes runs whole redis-autopilot nodes — the real binary, each
// with its own redis-server and redis-sentinel — against a real Consul, on
// distinct ports of 127.0.0.1, and checks what the cluster does.
package nodes

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/proc"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

var (
	// nodeSeq names nodes uniquely within a test process.
	nodeSeq   atomic.Int64
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary builds bin/redis-autopilot once per test process, from the
// repository the test runs in, and returns its path.
//
// REDIS_AUTOPILOT_BINARY names a binary built beforehand instead: make
// matrix runs the compiled tests inside a root filesystem without Go.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("REDIS_AUTOPILOT_BINARY"); p != "" {
			binary = p
			return
		}
		dir, err := os.MkdirTemp("", "cluster-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "redis-autopilot")
		build := exec.Command("go", "build", "-o", binary, "./cmd/redis-autopilot")
		build.Dir = harness.RepoRoot(t)
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build redis-autopilot: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// Cluster is a Consul server and the nodes started against it.
type Cluster struct {
	t      testing.TB
	Consul *harness.Consul
	// Env is added to every node's environment (after the defaults).
	Env []string
	// Opts are the options the cluster was made with.
	Opts Options

	mu     sync.Mutex
	nodes  []*Node
	added  int           // nodes ever added: each gets the next address
	server *consulServer // with Options.RestartableConsul
}

// Node is one redis-autopilot process and what it runs.
type Node struct {
	c    *Cluster
	Name string
	// IP is the loopback address the node binds and advertises.
	IP           string
	RedisPort    int
	SentinelPort int
	HTTPPort     int
	Dir          string
	Env          []string
	Proc         *harness.Process
	Client       *redis.Client
	// Binary, when set, is run instead of the one Binary builds.
	Binary string

	cgroup  string // its cgroup v2 directory, with Options.Cgroups
	logKept bool   // its log was kept for a failed test
}

// Addr is the node's redis address, as it registers it.
func (n *Node) Addr() string { return net.JoinHostPort(n.IP, strconv.Itoa(n.RedisPort)) }

// SentinelAddr is the node's sentinel address.
func (n *Node) SentinelAddr() string { return net.JoinHostPort(n.IP, strconv.Itoa(n.SentinelPort)) }

// New starts a Consul dev server for a cluster; env is added to every
// node's environment.
func New(t testing.TB, env ...string) *Cluster {
	t.Helper()
	harness.NeedBinary(t, "redis-server")
	harness.NeedBinary(t, "redis-sentinel")
	return &Cluster{t: t, Consul: harness.StartConsul(t), Env: env}
}

// AddNode prepares a node (not started) with fresh ports and directories.
func (c *Cluster) AddNode() *Node {
	c.t.Helper()
	c.mu.Lock()
	c.added++
	i := c.added
	c.mu.Unlock()
	ip := "127.0.0.1"
	switch {
	case c.Opts.IPv6:
		ip = "::1"
	case c.Opts.NodeIPs:
		ip = fmt.Sprintf("127.0.0.%d", i+1)
	}
	bind := ip
	if c.Opts.BindAll {
		bind = "0.0.0.0"
	}
	n := &Node{c: c, Name: fmt.Sprintf("node%d", nodeSeq.Add(1)), IP: ip, RedisPort: harness.FreePort(c.t),
		SentinelPort: harness.FreePort(c.t), HTTPPort: harness.FreePort(c.t), Dir: harness.TempDir(c.t, "node-")}
	n.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"CONSUL_HTTP_ADDR=" + c.Consul.HTTPAddr,
		"ADVERTISE_ADDR=" + ip, "BIND_ADDR=" + bind,
		"REDIS_PORT=" + strconv.Itoa(n.RedisPort), "SENTINEL_PORT=" + strconv.Itoa(n.SentinelPort),
		"REDIS_DATA_DIR=" + filepath.Join(n.Dir, "data"), "REDIS_CONFIG_DIR=" + filepath.Join(n.Dir, "etc"),
		"HTTP_ADDR=" + net.JoinHostPort(ip, strconv.Itoa(n.HTTPPort)),
		"SENTINEL_DOWN_AFTER=2s", "SENTINEL_FAILOVER_TIMEOUT=10s",
		"POLL_INTERVAL=1s", "CHECK_TTL=5s", "MASTER_WAIT_TIMEOUT=10s",
		"REDIS_FLAVOR=" + flavorOrAuto(),
	}, c.Env...)
	if c.Opts.ConsulAgents {
		n.Env = append(n.Env, n.agentEnv()...)
	}
	n.Client = redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	c.t.Cleanup(func() { n.Client.Close() })
	if c.Opts.Cgroups {
		n.makeCgroup(c.t)
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n
}

// Start starts (or restarts) the node's process.
func (n *Node) Start() *Node {
	n.c.t.Helper()
	bin := n.Binary
	if bin == "" {
		bin = Binary(n.c.t)
	}
	po := harness.ProcessOptions{Name: n.Name, LogPath: filepath.Join(n.Dir, "node.log"), Path: bin, Env: n.Env}
	if n.c.Opts.Cgroups {
		po = n.inCgroup(po)
	}
	n.Proc = harness.StartProcess(n.c.t, po)
	n.c.t.Cleanup(func() {
		if n.c.t.Failed() && !n.logKept { // once, however often it was started
			n.logKept = true
			keep := filepath.Join(os.TempDir(), "redis-autopilot-test-logs", strings.ReplaceAll(n.c.t.Name(), "/", "_")+"-"+n.Name+".log")
			os.MkdirAll(filepath.Dir(keep), 0o755)
			os.WriteFile(keep, []byte(n.Log()), 0o644)
			n.c.t.Logf("%s log tail (whole log kept in %s):\n%s", n.Name, keep, n.Proc.Tail(40))
		}
		n.KillAll()
	})
	return n
}

// StartNodes adds and starts k nodes at the same moment.
func (c *Cluster) StartNodes(k int) []*Node {
	c.t.Helper()
	nodes := make([]*Node, k)
	for i := range nodes {
		nodes[i] = c.AddNode()
	}
	for _, n := range nodes {
		n.Start()
	}
	return nodes
}

// Term sends SIGTERM and waits for the node to exit; it returns the exit
// code and how long the exit took.
func (n *Node) Term(timeout time.Duration) (int, time.Duration) {
	n.c.t.Helper()
	start := time.Now()
	if err := n.Proc.Signal(syscall.SIGTERM); err != nil {
		n.c.t.Fatalf("SIGTERM %s: %v", n.Name, err)
	}
	select {
	case <-n.Proc.Done():
	case <-time.After(timeout):
		n.c.t.Fatalf("%s did not exit within %s of SIGTERM:\n%s", n.Name, timeout, n.Proc.Tail(30))
	}
	return n.Proc.ExitCode(), time.Since(start)
}

// KillAll SIGKILLs the supervisor and every process it started, at once:
// the node vanishes as a crashed container would.
func (n *Node) KillAll() {
	if n.Proc == nil {
		return
	}
	// With Options.Cgroups, also whatever the node started further down
	// (a BGSAVE child) or left behind when its supervisor ended.
	var pids []int
	if !n.Proc.Exited() {
		pids = append([]int{n.Proc.Pid()}, ChildrenOf(n.Proc.Pid())...)
	}
	pids = append(pids, n.CgroupPids()...)
	for _, p := range pids { // the supervisor first: it restarts no child
		syscall.Kill(p, syscall.SIGKILL)
	}
	n.Proc.Kill()
	// The children are not ours: wait until they are gone.
	harness.Wait(10*time.Second, func() error {
		for _, p := range pids {
			if p != n.Proc.Pid() && syscall.Kill(p, 0) == nil && !isZombie(p) {
				return fmt.Errorf("pid %d still alive", p)
			}
		}
		return nil
	})
}

// Stop and Cont freeze and thaw the supervisor process alone.
func (n *Node) Stop() { syscall.Kill(n.Proc.Pid(), syscall.SIGSTOP) }
func (n *Node) Cont() { syscall.Kill(n.Proc.Pid(), syscall.SIGCONT) }

// Log returns the node's whole log.
func (n *Node) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "node.log"))
	return string(b)
}

// ChildrenOf lists the pids whose parent is ppid.
func ChildrenOf(ppid int) []int { return proc.Children(ppid) }

func isZombie(pid int) bool {
	st, err := proc.Read(pid)
	return err != nil || st.Zombie()
}

// Instances lists "addr:port" of a service's instances in Consul.
func (c *Cluster) Instances(name string, passingOnly bool) []string {
	c.t.Helper()
	entries, _, err := c.Consul.Client.Health().Service(name, "", passingOnly, nil)
	if err != nil {
		c.t.Fatalf("list %s: %v", name, err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port)))
	}
	sort.Strings(out)
	return out
}

// Topology is what Consul lists as passing.
type Topology struct{ Masters, Replicas, Sentinels []string }

func (c *Cluster) Topology() Topology {
	return Topology{c.Instances("redis", true), c.Instances("redis-replica", true), c.Instances("redis-sentinel", true)}
}

// WaitTopology waits until Consul lists exactly one passing master (which
// master names, if not empty; "!addr" means any but addr), and the given
// numbers of passing replicas and sentinels.
func (c *Cluster) WaitTopology(timeout time.Duration, master string, replicas, sentinels int) Topology {
	c.t.Helper()
	var top Topology
	harness.Eventually(c.t, timeout, func() error {
		top = c.Topology()
		switch {
		case len(top.Masters) != 1:
			return fmt.Errorf("passing masters %v, want one", top.Masters)
		case strings.HasPrefix(master, "!") && top.Masters[0] == master[1:]:
			return fmt.Errorf("passing master is still %s", top.Masters[0])
		case master != "" && !strings.HasPrefix(master, "!") && top.Masters[0] != master:
			return fmt.Errorf("passing master %s, want %s", top.Masters[0], master)
		case len(top.Replicas) != replicas || len(top.Sentinels) != sentinels:
			return fmt.Errorf("passing replicas %v and sentinels %v, want %d and %d", top.Replicas, top.Sentinels, replicas, sentinels)
		}
		return nil
	})
	return top
}

// Node returns the node whose redis is at addr.
func (c *Cluster) Node(addr string) *Node {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	c.t.Fatalf("no node at %s", addr)
	return nil
}

// WaitFor is harness.Eventually.
func WaitFor(t testing.TB, d time.Duration, f func() error) {
	t.Helper()
	harness.Eventually(t, d, f)
}

// Ctx is a context cancelled at the end of the test or after d.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// WatchMasters samples Consul every 50ms until stop is closed and
// returns the largest number of passing `redis` instances seen at once.
func (c *Cluster) WatchMasters(stop <-chan struct{}) <-chan int {
	out := make(chan int, 1)
	go func() {
		most := 0
		for {
			entries, _, err := c.Consul.Client.Health().Service("redis", "", true, nil)
			if err == nil && len(entries) > most {
				most = len(entries)
			}
			select {
			case <-stop:
				out <- most
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return out
}

// flavorOrAuto is the test process's REDIS_FLAVOR for the nodes.
func flavorOrAuto() string {
	if f := harness.Flavor(); f != "" {
		return f
	}
	return "auto"
}
