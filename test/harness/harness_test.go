package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// TestSmoke starts Consul (a server and a client agent), a redis master, a
// replica and a sentinel together, and talks to each.
func TestSmoke(t *testing.T) {
	ctx := context.Background()
	server := StartConsul(t)
	agent := server.StartClientAgent(t)
	if err := agent.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "smoke", Port: 1}); err != nil {
		t.Fatalf("register on the client agent: %v", err)
	}
	Eventually(t, 10*time.Second, func() error {
		svcs, _, err := server.Client.Catalog().Service("smoke", "", nil)
		if err != nil {
			return err
		}
		if len(svcs) != 1 {
			return fmt.Errorf("server sees %d smoke services, want 1", len(svcs))
		}
		return nil
	})

	master := StartRedis(t, RedisOptions{Password: "s3cret"})
	replica := StartRedis(t, RedisOptions{Password: "s3cret", ReplicaOf: master.Addr})
	if err := master.Client.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on master: %v", err)
	}
	Eventually(t, 10*time.Second, func() error {
		v, err := replica.Client.Get(ctx, "k").Result()
		if err != nil {
			return err
		}
		if v != "v" {
			return fmt.Errorf("replica has %q", v)
		}
		return nil
	})

	s := StartSentinel(t, SentinelOptions{MasterAddr: master.Addr, Password: "s3cret"})
	Eventually(t, 15*time.Second, func() error {
		addr, err := s.Client.GetMasterAddrByName(ctx, "mymaster").Result()
		if err != nil {
			return err
		}
		if net.JoinHostPort(addr[0], addr[1]) != master.Addr {
			return fmt.Errorf("sentinel says master %v", addr)
		}
		replicas, err := s.Client.Replicas(ctx, "mymaster").Result()
		if err != nil {
			return err
		}
		if len(replicas) != 1 {
			return errors.New("sentinel has not found the replica yet")
		}
		return nil
	})
}

func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

// TestFreePortIsHeldAgainstOtherProcesses: test packages run as parallel
// processes; a port one of them picked is locked against the others until
// it exits (here another process, flock(1), cannot take the lock).
func TestFreePortIsHeldAgainstOtherProcesses(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) is not installed (util-linux)")
	}
	p := FreePort(t)
	err := exec.Command("flock", "-n", filepath.Join(portLockDir, strconv.Itoa(p)), "true").Run()
	if err == nil {
		t.Fatalf("another process took the lock of port %d that this process holds", p)
	}
}
