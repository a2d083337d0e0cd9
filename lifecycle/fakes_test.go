package lifecycle

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// The node the fakes stand for: redis at 10.0.0.1:6379, its sentinel at
// 10.0.0.1:26379.
const (
	fakeSelf     = "10.0.0.1:6379"
	fakeSelfSent = "10.0.0.1:26379"
	idMaster     = "redis-10.0.0.1-6379"
	idReplica    = "redis-replica-10.0.0.1-6379"
	idSentinel   = "redis-sentinel-10.0.0.1-26379"
)

var errFake = errors.New("fake Consul refused")

// fakeRegistry is a Consul agent and catalog in memory. It logs every
// write ("Register ID", "Pass ID", "Put KEY VALUE", ...), with " (failed)"
// when it failed, and fails every call whose line starts with failAt.
type fakeRegistry struct {
	mu        sync.Mutex
	writes    []string
	failAt    string
	agent     map[string]bool // service IDs on the local agent
	catalog   registry.CatalogView
	instances map[string][]registry.Instance
	kv        map[string]string
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{agent: map[string]bool{}, instances: map[string][]registry.Instance{}, kv: map[string]string{},
		catalog: registry.CatalogView{Node: "node1", NodeRegistered: true, ServiceIDs: map[string]bool{}}}
}

// register puts id on the agent and, in sync, into the catalog.
func (f *fakeRegistry) register(ids ...string) {
	for _, id := range ids {
		f.agent[id] = true
		f.catalog.ServiceIDs[id] = true
	}
}

func (f *fakeRegistry) call(line string, write bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if f.failAt != "" && strings.HasPrefix(line, f.failAt) {
		err = errFake
	}
	if write && err != nil {
		line += " (failed)"
	}
	if write {
		f.writes = append(f.writes, line)
	}
	return err
}

func (f *fakeRegistry) Writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.writes...)
}

func (f *fakeRegistry) Instances(_ context.Context, name string, passingOnly bool) ([]registry.Instance, error) {
	if err := f.call("Instances "+name+" "+strconv.FormatBool(passingOnly), false); err != nil {
		return nil, err
	}
	return f.instances[name], nil
}

func (f *fakeRegistry) Get(_ context.Context, key string) (string, bool, error) {
	if err := f.call("Get "+key, false); err != nil {
		return "", false, err
	}
	v, ok := f.kv[key]
	return v, ok, nil
}

func (f *fakeRegistry) LocalServiceIDs(context.Context) (map[string]bool, error) {
	if err := f.call("LocalServiceIDs", false); err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for id := range f.agent {
		ids[id] = true
	}
	return ids, nil
}

func (f *fakeRegistry) LocalNodeInCatalog(context.Context) (registry.CatalogView, error) {
	if err := f.call("LocalNodeInCatalog", false); err != nil {
		return registry.CatalogView{}, err
	}
	v := f.catalog
	v.ServiceIDs = map[string]bool{}
	for id := range f.catalog.ServiceIDs {
		v.ServiceIDs[id] = true
	}
	return v, nil
}

func (f *fakeRegistry) Register(_ context.Context, s registry.Service) error {
	if err := f.call("Register "+s.ID, true); err != nil {
		return err
	}
	f.agent[s.ID] = true
	return nil
}

func (f *fakeRegistry) Deregister(_ context.Context, id string) error {
	if err := f.call("Deregister "+id, true); err != nil {
		return err
	}
	delete(f.agent, id)
	return nil
}

func (f *fakeRegistry) Pass(_ context.Context, id, _ string) error { return f.call("Pass "+id, true) }
func (f *fakeRegistry) Fail(_ context.Context, id, _ string) error { return f.call("Fail "+id, true) }

func (f *fakeRegistry) MarkCritical(_ context.Context, in registry.Instance, _ string) error {
	return f.call("MarkCritical "+in.ID, true)
}

func (f *fakeRegistry) Put(_ context.Context, key, value string) error {
	if err := f.call("Put "+key+" "+value, true); err != nil {
		return err
	}
	f.kv[key] = value
	return nil
}

func (f *fakeRegistry) Join(_ context.Context, addrs []string) error {
	return f.call("Join "+strings.Join(addrs, ","), true)
}

func (f *fakeRegistry) WatchKey(ctx context.Context, key string, index uint64, _ time.Duration, _ int) (registry.KeyState, error) {
	<-ctx.Done()
	return registry.KeyState{Index: index}, ctx.Err()
}

// fakePeers are the local redis and the sentinels.
type fakePeers struct {
	mu       sync.Mutex
	info     redisnode.Info
	infoErr  error
	pingErr  error
	view     sentinel.View
	askErr   error
	masters  map[string]bool // other nodes that answer as master
	fence    string          // min-replicas-to-write
	followed []string
	// replicaOf records each REPLICAOF ("ip:port"), rewrites each CONFIG
	// REWRITE; replicaOfErr fails REPLICAOF.
	replicaOf    []string
	rewrites     int
	replicaOfErr error
}

func (p *fakePeers) Info(context.Context) (redisnode.Info, error) { return p.info, p.infoErr }
func (p *fakePeers) PingSentinel(context.Context) error           { return p.pingErr }
func (p *fakePeers) Ask(context.Context, []string, bool) (sentinel.View, error) {
	return p.view, p.askErr
}

func (p *fakePeers) ProbeMaster(_ context.Context, addr string) error {
	if p.masters[addr] {
		return nil
	}
	return errors.New(addr + " does not answer")
}

func (p *fakePeers) FenceSetting(context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fence, nil
}

func (p *fakePeers) SetFenceSetting(_ context.Context, v string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fence = v
	return nil
}

func (p *fakePeers) Follow(_ context.Context, addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.followed = append(p.followed, addr)
}

func (p *fakePeers) ReplicaOf(_ context.Context, master string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.replicaOfErr != nil {
		return p.replicaOfErr
	}
	p.replicaOf = append(p.replicaOf, master)
	return nil
}

func (p *fakePeers) RewriteConfig(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewrites++
	return nil
}

func (p *fakePeers) fenced() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fence == fenceReplicas
}

type noChildren struct{}

func (noChildren) Add(supervisor.ChildSpec) (*supervisor.Child, error) {
	return nil, errors.New("no children in this test")
}

type noLocks struct{}

func (noLocks) Acquire(context.Context, string, string) (Lock, error) {
	return nil, errors.New("no locks in this test")
}

// newFakeNode is a node whose Consul, redis and sentinels are fakes.
func newFakeNode(t *testing.T, reg *fakeRegistry, p *fakePeers) *Node {
	t.Helper()
	n, err := NewNode(NodeOptions{
		Log: hclog.NewNullLogger(), Sup: noChildren{}, Reg: reg, Locker: noLocks{},
		AdvertiseAddr: "10.0.0.1", BindAddr: "127.0.0.1", RedisPort: 6379, SentinelPort: 26379,
		PollInterval: time.Second, CheckTTL: 5 * time.Second, ConsulJoin: []string{"10.0.0.100"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.redis.Close(); n.sent.Close() })
	n.peers = p
	return n
}
