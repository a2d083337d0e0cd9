package cluster

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/clustertest"
)

// TestConsulKeysOverrideSentinelSettings: the shell version's Consul keys
// set the sentinel quorum at start, and SIGHUP applies new values to the
// running sentinel.
func TestConsulKeysOverrideSentinelSettings(t *testing.T) {
	c := clustertest.New(t)
	kv := c.Consul.Client.KV()
	if _, err := kv.Put(&api.KVPair{Key: "service/redis-sentinel/quorum", Value: []byte("1")}, nil); err != nil {
		t.Fatal(err)
	}
	n := c.AddNode().Start()
	c.WaitTopology(30*time.Second, n.Addr(), 0, 1)
	s := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", n.SentinelPort)})
	defer s.Close()
	field := func(k string) string {
		m, err := s.Master(clustertest.Ctx(t, 2*time.Second), "mymaster").Result()
		if err != nil {
			t.Fatal(err)
		}
		return m[k]
	}
	if q := field("quorum"); q != "1" {
		t.Fatalf("sentinel quorum %s, want 1 from Consul", q)
	}
	if _, err := kv.Put(&api.KVPair{Key: "service/redis-sentinel/failover-timeout", Value: []byte("45000")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 10*time.Second, func() error {
		if v := field("failover-timeout"); v != "45000" {
			return fmt.Errorf("failover-timeout %s after SIGHUP, want 45000", v)
		}
		return nil
	})
}
