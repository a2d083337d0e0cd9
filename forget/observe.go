package forget

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/internal/guard"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// services are the registrations the node makes, each an address that
// may depart.
var services = []string{registry.ServiceMaster, registry.ServiceReplica, registry.ServiceSentinel}

// memory is what observations carry from one step to the next: when each
// address last had a registration on a live agent (present), and since
// when each node's agent has been gone. It starts empty on every holder of the lock, so a new
// holder waits a whole grace period before it forgets anything.
type memory struct {
	lastLive map[string]time.Time
	deadFrom map[string]time.Time
}

func newMemory() *memory {
	return &memory{lastLive: map[string]time.Time{}, deadFrom: map[string]time.Time{}}
}

// observe reads Consul, every live sentinel and the master. It changes
// nothing but c's memory.
func (c *Cleaner) observe(ctx context.Context) (Observation, error) {
	now := time.Now()
	o := Observation{Grace: c.o.Grace, Absent: map[string]time.Duration{}}
	live := map[string]bool{}
	dead := map[string]bool{}
	for _, name := range services {
		ins, err := c.o.Reg.Instances(ctx, name, false)
		if err != nil {
			return o, err
		}
		if name == registry.ServiceSentinel {
			o.RegisteredSentinels = len(ins)
		}
		for _, in := range ins {
			if present(in) {
				live[in.Addr()] = true
			}
			if in.Status != api.HealthCritical {
				switch name {
				case registry.ServiceSentinel:
					o.LiveSentinels = append(o.LiveSentinels, in.Addr())
				case registry.ServiceReplica:
					o.LiveReplicas = append(o.LiveReplicas, in.Addr())
				}
			}
			if in.AgentStatus == api.HealthCritical {
				dead[in.Node] = true
				if c.mem.deadFrom[in.Node].IsZero() {
					c.mem.deadFrom[in.Node] = now
				}
				if now.Sub(c.mem.deadFrom[in.Node]) >= c.o.Grace {
					o.Dead = append(o.Dead, in)
				}
			}
		}
	}
	for node := range c.mem.deadFrom {
		if !dead[node] {
			delete(c.mem.deadFrom, node)
		}
	}
	o.Views = c.askAll(ctx, o.LiveSentinels)
	c.absence(&o, live, now)
	if master, agreed := Majority(o.Views); agreed > 0 {
		o.MasterRole, o.MasterFenced, o.MasterErr = c.master(ctx, master)
	}
	return o, nil
}

// present reports whether in keeps its address from departing: it is
// registered on a Consul agent that is alive, whether or not its own check
// passes. A redis that crash-loops on a live node is not departed: forgot
// by the sentinels, it would come back as a master none of them knows, and
// none would ever make it a replica. Registrations a dead container left
// on a live agent go by themselves (deregister-critical-service-after),
// and their address departs from then.
func present(in registry.Instance) bool {
	return in.AgentStatus != api.HealthCritical
}

// absence fills o.Absent for every address the sentinels list, from when
// each last had a registration on a live agent (or was first seen).
func (c *Cleaner) absence(o *Observation, live map[string]bool, now time.Time) {
	for a := range live {
		c.mem.lastLive[a] = now
	}
	seen := map[string]bool{}
	for _, v := range o.Views {
		for _, e := range append(append([]Entry{}, v.Replicas...), v.Sentinels...) {
			seen[e.Addr] = true
			if c.mem.lastLive[e.Addr].IsZero() {
				c.mem.lastLive[e.Addr] = now
			}
			o.Absent[e.Addr] = now.Sub(c.mem.lastLive[e.Addr])
		}
	}
	for a := range c.mem.lastLive {
		if !seen[a] && !live[a] {
			delete(c.mem.lastLive, a)
		}
	}
}

// askAll asks every sentinel in addrs for its view, in parallel.
func (c *Cleaner) askAll(ctx context.Context, addrs []string) []View {
	views := make([]View, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views[i] = c.ask(ctx, a)
		}()
	}
	wg.Wait()
	return views
}

// ask reads one sentinel's master and tables. A panic reading its replies
// is its error: a sentinel is anyone who registered one in Consul.
func (c *Cleaner) ask(ctx context.Context, addr string) (v View) {
	var err error
	defer func() {
		if err != nil {
			v = View{Sentinel: addr, Err: err}
		}
	}()
	defer guard.Catch(&err, "ask sentinel "+addr)
	s := sentinel.Dial(addr, c.o.Password)
	defer s.Close()
	v.Sentinel = addr
	if v.Master, err = s.GetMasterAddr(ctx, c.o.MasterName); err != nil {
		return v
	}
	m, err := s.Master(ctx, c.o.MasterName)
	if err != nil {
		return v
	}
	v.Flags = m.Flags
	reps, err := s.Replicas(ctx, c.o.MasterName)
	if err != nil {
		return v
	}
	sents, err := s.Sentinels(ctx, c.o.MasterName)
	if err != nil {
		return v
	}
	v.Replicas, v.Sentinels = entries(reps), entries(sents)
	return v
}

func entries(l []sentinel.Instance) []Entry {
	out := make([]Entry, len(l))
	for i, in := range l {
		out[i] = Entry{Addr: in.Addr(), Down: in.Down() || in.HasFlag("disconnected")}
	}
	return out
}

// master asks addr its replication role and whether its write fence is
// up. It is asked last, right before a step applies its decision.
func (c *Cleaner) master(ctx context.Context, addr string) (role string, fenced bool, err error) {
	defer guard.Catch(&err, "ask the master "+addr)
	r := redisnode.Dial(addr, c.o.Password)
	defer r.Close()
	info, err := r.Info(ctx, "replication")
	if err != nil {
		return "", false, err
	}
	fenced, err = r.Fenced(ctx)
	return info.RedisRole(), fenced, err
}
