package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

func httpCode(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (n nodeURL) get(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", n.HTTPPort, path)
}

type nodeURL struct{ *nodes.Node }

// runCLI runs a redis-autopilot subcommand with the node's environment.
func runCLI(t *testing.T, n *nodes.Node, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(nodes.Binary(t), args...)
	cmd.Env = n.Env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// TestStatusHealthAndMetricsFollowAFailover checks what operators and load
// balancers read: `status --json`, `health`, /master and /replica, and the
// Prometheus metrics, before and after a failover.
func TestStatusHealthAndMetricsFollowAFailover(t *testing.T) {
	t.Parallel()
	c := nodes.New(t)
	a := c.AddNode().Start()
	c.WaitTopology(30*time.Second, a.Addr(), 0, 1)
	b := c.AddNode().Start()
	c.WaitTopology(30*time.Second, a.Addr(), 1, 2)

	out, code := runCLI(t, a, "status", "--json")
	var st struct {
		Node struct {
			Role, Master, Reason string
			Registered           string `json:"registered_as"`
			Passing              bool
		}
		Consul struct {
			Masters []string `json:"redis"`
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
		t.Fatalf("status --json exited %d: %v\n%s", code, err, out)
	}
	if st.Node.Role != "master" || st.Node.Registered != "redis" || !st.Node.Passing || st.Node.Reason == "" ||
		len(st.Consul.Masters) != 1 || st.Consul.Masters[0] != a.Addr() {
		t.Fatalf("status of the master: %s", out)
	}
	if out, code := runCLI(t, b, "status"); code != 0 || !strings.Contains(out, "replica of "+a.Addr()) {
		t.Fatalf("status of the replica exited %d:\n%s", code, out)
	}
	for _, n := range []*nodes.Node{a, b} {
		if out, code := runCLI(t, n, "health"); code != 0 {
			t.Fatalf("health of %s exited %d: %s", n.Name, code, out)
		}
	}
	checkRoleEndpoints(t, a, b)
	checkRoleMetric(t, a, "master")
	checkRoleMetric(t, b, "replica")

	s := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", b.SentinelPort)})
	defer s.Close()
	if err := s.Failover(nodes.Ctx(t, 10*time.Second), "mymaster").Err(); err != nil {
		t.Fatal(err)
	}
	c.WaitTopology(40*time.Second, b.Addr(), 1, 2)
	nodes.WaitFor(t, 15*time.Second, func() error {
		if httpCode(t, nodeURL{b}.get("/master")) != 200 || httpCode(t, nodeURL{a}.get("/replica")) != 200 {
			return fmt.Errorf("role endpoints have not followed the failover")
		}
		return nil
	})
	checkRoleEndpoints(t, b, a)
	checkRoleMetric(t, b, "master")
	checkRoleMetric(t, a, "replica")

	// health reads only, and fails when the sentinel is gone.
	for _, pid := range childPIDs(a, "redis-sentinel") {
		exec.Command("kill", "-STOP", fmt.Sprint(pid)).Run()
		t.Cleanup(func() { exec.Command("kill", "-CONT", fmt.Sprint(pid)).Run() })
	}
	if out, code := runCLI(t, a, "health"); code == 0 || !strings.Contains(out, "sentinel") {
		t.Fatalf("health with a frozen sentinel exited %d: %s", code, out)
	}
}

func checkRoleEndpoints(t *testing.T, master, replica *nodes.Node) {
	t.Helper()
	want := map[string]int{
		nodeURL{master}.get("/master"): 200, nodeURL{master}.get("/replica"): 503,
		nodeURL{replica}.get("/replica"): 200, nodeURL{replica}.get("/master"): 503,
		nodeURL{master}.get("/health"): 200, nodeURL{replica}.get("/health"): 200,
	}
	for url, code := range want {
		if got := httpCode(t, url); got != code {
			t.Errorf("GET %s = %d, want %d", url, got, code)
		}
	}
}

func checkRoleMetric(t *testing.T, n *nodes.Node, role string) {
	t.Helper()
	nodes.WaitFor(t, 10*time.Second, func() error {
		s, err := metrics.Scrape(nodes.Ctx(t, 5*time.Second), nodeURL{n}.get("/metrics"))
		if err != nil {
			return err
		}
		if v, ok := s.Get("redis_autopilot_role", "role", role); !ok || v != 1 {
			return fmt.Errorf("%s: redis_autopilot_role{role=%q} = %v (present %v)", n.Name, role, v, ok)
		}
		return nil
	})
}

func childPIDs(n *nodes.Node, comm string) []int {
	comm = harness.Program(comm)
	var out []int
	for _, p := range nodes.ChildrenOf(n.Proc.Pid()) {
		b, _ := exec.Command("cat", fmt.Sprintf("/proc/%d/comm", p)).Output()
		if strings.TrimSpace(string(b)) == comm {
			out = append(out, p)
		}
	}
	return out
}
