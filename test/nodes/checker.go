package nodes

import (
	"context"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/redis/go-redis/v9"
)

// Sample is what the Checker saw at one moment.
type Sample struct {
	At time.Time
	// Passing lists the passing `redis` instances in Consul; ConsulErr is
	// set when Consul did not answer (then Passing is nil).
	Passing   []string
	ConsulErr error
	// Roles is each node's INFO role by its redis address ("master",
	// "slave"), "" when it did not answer.
	Roles map[string]string
	// SentinelMaster is the master a majority of the nodes' sentinels
	// name, "" when no majority agrees.
	SentinelMaster string
}

// Masters lists the nodes that reported role:master.
func (s Sample) Masters() []string {
	var out []string
	for a, r := range s.Roles {
		if r == "master" {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// Serving is whether exactly one passing `redis` is listed and that node
// reports role:master: a client that asks Consul can write.
func (s Sample) Serving() bool {
	return len(s.Passing) == 1 && s.Roles[s.Passing[0]] == "master"
}

// Checker samples the cluster: Consul's passing masters, every node's role
// and the sentinels' majority view, with short timeouts so that a frozen
// part makes a sample late by at most that.
type Checker struct {
	c      *Cluster
	every  time.Duration
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	samples []Sample
}

// StartChecker samples every `every` until Stop.
func (c *Cluster) StartChecker(every time.Duration) *Checker {
	ctx, cancel := context.WithCancel(context.Background())
	k := &Checker{c: c, every: every, cancel: cancel, done: make(chan struct{})}
	go k.run(ctx)
	return k
}

// Stop stops sampling. Idempotent.
func (k *Checker) Stop() {
	k.cancel()
	<-k.done
}

// Samples returns the samples taken in [from, to).
func (k *Checker) Samples(from, to time.Time) []Sample {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []Sample
	for _, s := range k.samples {
		if !s.At.Before(from) && s.At.Before(to) {
			out = append(out, s)
		}
	}
	return out
}

// Last returns the newest sample.
func (k *Checker) Last() (Sample, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.samples) == 0 {
		return Sample{}, false
	}
	return k.samples[len(k.samples)-1], true
}

type probe struct {
	node           *Node
	redis, sentinl *redis.Client
}

func (k *Checker) run(ctx context.Context) {
	defer close(k.done)
	var probes []probe
	defer func() {
		for _, p := range probes {
			p.close()
		}
	}()
	t := time.NewTicker(k.every)
	defer t.Stop()
	for {
		probes = k.follow(probes)
		s := k.sample(ctx, probes)
		k.mu.Lock()
		k.samples = append(k.samples, s)
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// follow makes probes the cluster's nodes: nodes added since are probed
// too, retired ones no longer.
func (k *Checker) follow(probes []probe) []probe {
	nodes := k.c.Nodes()
	var out []probe
	for _, p := range probes {
		if slices.Contains(nodes, p.node) {
			out = append(out, p)
		} else {
			p.close()
		}
	}
	for _, n := range nodes {
		if !slices.ContainsFunc(out, func(p probe) bool { return p.node == n }) {
			o := func(addr string) *redis.Options {
				return &redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 300 * time.Millisecond,
					ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, PoolSize: 2, Protocol: 2}
			}
			out = append(out, probe{n, redis.NewClient(o(n.Addr())), redis.NewClient(o(n.SentinelAddr()))})
		}
	}
	return out
}

func (p probe) close() {
	p.redis.Close()
	p.sentinl.Close()
}

func (k *Checker) sample(ctx context.Context, probes []probe) Sample {
	s := Sample{At: time.Now(), Roles: map[string]string{}}
	ctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	views := map[string]int{}
	for _, p := range probes {
		wg.Add(2)
		go func() {
			defer wg.Done()
			role := Role(ctx, p.redis)
			mu.Lock()
			s.Roles[p.node.Addr()] = role
			mu.Unlock()
		}()
		go func() {
			defer wg.Done()
			if m, err := p.sentinl.Do(ctx, "SENTINEL", "get-master-addr-by-name", "mymaster").StringSlice(); err == nil && len(m) == 2 {
				mu.Lock()
				views[net.JoinHostPort(m[0], m[1])]++
				mu.Unlock()
			}
		}()
	}
	entries, _, err := k.c.Consul.Client.Health().Service("redis", "", true, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		s.ConsulErr = err
	} else {
		s.Passing = []string{}
		for _, e := range entries {
			s.Passing = append(s.Passing, net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port)))
		}
		sort.Strings(s.Passing)
	}
	wg.Wait()
	for m, n := range views {
		if n > len(probes)/2 {
			s.SentinelMaster = m
		}
	}
	return s
}

// Role is the role INFO reports ("master", "slave"), "" when c does not
// answer.
func Role(ctx context.Context, c *redis.Client) string {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(info, "\n") {
		if r, ok := strings.CutPrefix(strings.TrimSpace(l), "role:"); ok {
			return r
		}
	}
	return ""
}
