//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// enforcePolicy is the container runtime's `restart: always`: a node whose
// process ended without the suite stopping it is started again.
func (s *suite) enforcePolicy() {
	for _, n := range s.nodes {
		if s.down[n] || n.Proc == nil || !n.Proc.Exited() {
			continue
		}
		s.t.Logf("restart policy: %s exited with code %d; starting it again", n.Name, n.Proc.ExitCode())
		s.policyRestarts++
		n.KillAll() // what is left of it, as the runtime removes the container
		n.Start()
	}
}

// wait calls f every 200ms, applying the restart policy, until it returns
// nil or timeout passes; it returns f's last error.
func (s *suite) wait(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		s.enforcePolicy()
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pause lets d pass while the restart policy keeps running.
func (s *suite) pause(d time.Duration) {
	end := time.Now().Add(d)
	s.wait(d, func() error {
		if time.Now().Before(end) {
			return fmt.Errorf("pausing")
		}
		return nil
	})
}

// health says whether the cluster is whole: one passing master that every
// node and a majority of sentinels agree on, every other node a passing
// replica with its link up, every sentinel passing and knowing the others.
// bad names each unhealthy node and why.
func (s *suite) health() (master *nodes.Node, bad map[string]string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	bad = map[string]string{}
	passing := map[string][]string{}
	for _, svc := range []string{"redis", "redis-replica", "redis-sentinel"} {
		entries, _, err := s.c.Consul.Client.Health().Service(svc, "", true, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return nil, bad, fmt.Errorf("ask Consul for %s: %w", svc, err)
		}
		for _, e := range entries {
			passing[svc] = append(passing[svc], net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port)))
		}
	}
	if len(passing["redis"]) != 1 {
		return nil, bad, fmt.Errorf("Consul lists %d passing masters %v", len(passing["redis"]), passing["redis"])
	}
	maddr := passing["redis"][0]
	for _, n := range s.nodes {
		if n.Addr() == maddr {
			master = n
		}
	}
	for _, n := range s.nodes {
		if why := s.nodeHealth(ctx, n, maddr, passing); why != "" {
			bad[n.Name] = why
		}
	}
	if len(bad) > 0 {
		return master, bad, fmt.Errorf("unhealthy nodes: %s", describe(bad))
	}
	return master, bad, nil
}

func (s *suite) nodeHealth(ctx context.Context, n *nodes.Node, master string, passing map[string][]string) string {
	if n.Proc == nil || n.Proc.Exited() {
		return "process not running"
	}
	info, err := n.Client.Info(ctx, "replication").Result()
	if err != nil {
		return "redis does not answer: " + err.Error()
	}
	f := fields(info)
	switch {
	case n.Addr() == master && f["role"] != "master":
		return "listed as master but reports role " + f["role"]
	case n.Addr() != master && f["role"] != "slave":
		return "reports role " + f["role"] + " beside the master " + master
	case n.Addr() != master && (net.JoinHostPort(f["master_host"], f["master_port"]) != master || f["master_link_status"] != "up"):
		return fmt.Sprintf("replica of %s:%s link %s, not of %s", f["master_host"], f["master_port"], f["master_link_status"], master)
	case n.Addr() != master && !contains(passing["redis-replica"], n.Addr()):
		return "not a passing redis-replica in Consul"
	case !contains(passing["redis-sentinel"], n.SentinelAddr()):
		return "its sentinel is not passing in Consul"
	}
	return s.sentinelHealth(ctx, n, master)
}

// sentinelHealth checks that the node's sentinel names master and knows
// the other sentinels, so that it can take part in the next failover.
func (s *suite) sentinelHealth(ctx context.Context, n *nodes.Node, master string) string {
	sc := s.sentinelClient(n)
	m, err := sc.Do(ctx, "SENTINEL", "get-master-addr-by-name", "mymaster").StringSlice()
	if err != nil || len(m) != 2 {
		return fmt.Sprintf("sentinel does not name a master: %v", err)
	}
	if net.JoinHostPort(m[0], m[1]) != master {
		return "sentinel names " + m[0] + ":" + m[1]
	}
	res, err := sc.Do(ctx, "SENTINEL", "master", "mymaster").Slice()
	if err != nil {
		return "SENTINEL master: " + err.Error()
	}
	kv := map[string]string{}
	for i := 0; i+1 < len(res); i += 2 {
		kv[fmt.Sprint(res[i])] = fmt.Sprint(res[i+1])
	}
	if others, _ := strconv.Atoi(kv["num-other-sentinels"]); others < nodeCount-1 {
		return "sentinel knows " + kv["num-other-sentinels"] + " other sentinels"
	}
	if strings.Contains(kv["flags"], "down") {
		return "sentinel flags the master " + kv["flags"]
	}
	return ""
}

func (s *suite) sentinelClient(n *nodes.Node) *redis.Client {
	if s.sentinels[n] == nil {
		s.sentinels[n] = redis.NewClient(&redis.Options{Addr: n.SentinelAddr(), MaxRetries: -1, DialTimeout: time.Second, Protocol: 2})
		s.t.Cleanup(func() { s.sentinels[n].Close() })
	}
	return s.sentinels[n]
}

func fields(info string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			out[k] = v
		}
	}
	return out
}

func describe(bad map[string]string) string {
	var parts []string
	for n, why := range bad {
		parts = append(parts, n+": "+why)
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if out, err := exec.Command("mkdir", "-p", dir).CombinedOutput(); err != nil {
		t.Fatalf("mkdir %s: %v: %s", dir, err, out)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}
