package cluster

import (
	"fmt"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// BenchmarkFailover measures, with SENTINEL_DOWN_AFTER=2s and the default
// POLL_INTERVAL (5s) and CHECK_TTL (25s):
//   - start-master-ms: process start to registered and passing, first node;
//   - start-replica-ms: the same for a replica joining it;
//   - sentinel-switch-ms: SIGKILL of the master node to a surviving
//     sentinel naming a new master (the baseline: Sentinel's own speed);
//   - consul-switch-ms: SIGKILL to a new passing `redis` in Consul;
//   - registry-lag-ms: the difference, i.e. how long the registry takes to
//     follow +switch-master (goal: well under one poll interval);
//   - consul/sentinel: the ratio of the two switch times.
//
// Run: go test -run '^$' -bench Failover -benchtime 3x ./test/cluster
func BenchmarkFailover(b *testing.B) {
	var startM, startR, sent, cons []float64
	for i := 0; i < b.N; i++ {
		c := nodes.New(b, "POLL_INTERVAL=5s", "CHECK_TTL=25s")
		t0 := time.Now()
		m := c.AddNode().Start()
		c.WaitTopology(60*time.Second, m.Addr(), 0, 1)
		startM = append(startM, ms(time.Since(t0)))
		t1 := time.Now()
		r1 := c.AddNode().Start()
		c.WaitTopology(60*time.Second, m.Addr(), 1, 2)
		startR = append(startR, ms(time.Since(t1)))
		c.AddNode().Start()
		c.WaitTopology(60*time.Second, m.Addr(), 2, 3)
		// The survivors' sentinels must know the replicas before the kill.
		s := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r1.SentinelPort)})
		nodes.WaitFor(b, 30*time.Second, func() error {
			rs, err := s.Replicas(nodes.Ctx(b, time.Second), "mymaster").Result()
			if err != nil || len(rs) < 2 {
				return fmt.Errorf("sentinel knows %d replicas", len(rs))
			}
			return nil
		})
		kill := time.Now()
		m.KillAll()
		var sentAt, consAt time.Time
		nodes.WaitFor(b, 60*time.Second, func() error {
			if sentAt.IsZero() {
				if a, err := s.GetMasterAddrByName(nodes.Ctx(b, time.Second), "mymaster").Result(); err == nil && net.JoinHostPort(a[0], a[1]) != m.Addr() {
					sentAt = time.Now()
				}
			}
			if consAt.IsZero() {
				if p := c.Instances("redis", true); len(p) == 1 && p[0] != m.Addr() {
					consAt = time.Now()
				}
			}
			if sentAt.IsZero() || consAt.IsZero() {
				return fmt.Errorf("sentinel switched: %v, consul switched: %v", !sentAt.IsZero(), !consAt.IsZero())
			}
			return nil
		})
		s.Close()
		sent = append(sent, ms(sentAt.Sub(kill)))
		cons = append(cons, ms(consAt.Sub(kill)))
	}
	b.ReportMetric(median(startM), "start-master-ms")
	b.ReportMetric(median(startR), "start-replica-ms")
	b.ReportMetric(median(sent), "sentinel-switch-ms")
	b.ReportMetric(median(cons), "consul-switch-ms")
	b.ReportMetric(median(cons)-median(sent), "registry-lag-ms")
	b.ReportMetric(median(cons)/median(sent), "consul/sentinel")
	b.Logf("start master %v ms; start replica %v ms; sentinel switch %v ms; consul switch %v ms", startM, startR, sent, cons)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(v []float64) float64 {
	s := append([]float64{}, v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
