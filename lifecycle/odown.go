package lifecycle

import (
	"context"
	"slices"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// odownTTL is how long a +odown event alone names the master down: the
// failover that follows ends with +switch-master within the failover
// timeout, and a -odown missed while disconnected must not mark a master
// down for longer than the ticks take to read the flags again.
const odownTTL = 30 * time.Second

// odownSeen is the master the local sentinel flagged o_down, and when.
type odownSeen struct {
	addr string
	at   time.Time
}

// odownEvent records what a local sentinel event says about the master
// being o_down and reports whether the master was just flagged: +odown
// sets it, -odown and +switch-master clear it.
func (n *Node) odownEvent(e sentinel.Event) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case e.SwitchMaster != nil && e.SwitchMaster.Name == MasterName:
		n.odown = odownSeen{}
	case e.MasterName != MasterName || e.InstanceType != "master":
	case e.Type == "+odown":
		n.odown = odownSeen{addr: e.MasterAddr, at: time.Now()}
		return true
	case e.Type == "-odown" && e.MasterAddr == n.odown.addr:
		n.odown = odownSeen{}
	}
	return false
}

// odownMaster is the master the local sentinel flagged +odown within
// odownTTL, or "".
func (n *Node) odownMaster() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.odown.addr == "" || time.Since(n.odown.at) > odownTTL {
		return ""
	}
	return n.odown.addr
}

// markDownAtOnce marks the master the local sentinel has just flagged
// o_down critical in the catalog, before the tick it asks for: that tick
// asks every sentinel first, and the down master's own sentinel, frozen
// with it, takes the whole ask budget (up to 2 s) to time out. The choice
// is still Decide's, on what is known without asking the sentinels:
// INFO, the o_down master and its registrations in Consul.
func (n *Node) markDownAtOnce(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, n.o.PollInterval)
	defer cancel()
	obs := Observation{Self: n.self, SelfSentinel: n.selfSent, At: time.Now(), SentinelOK: true, ODownMaster: n.odownMaster()}
	if obs.ODownMaster == "" {
		return
	}
	ictx, icancel := context.WithTimeout(ctx, max(n.o.PollInterval/3, 100*time.Millisecond))
	obs.Info, obs.InfoErr = n.peers.Info(ictx)
	icancel()
	if obs.InfoErr != nil {
		return
	}
	var err error
	if obs.ODownListed, err = n.listedNotCritical(ctx, obs.ODownMaster); err != nil {
		n.log.Warn("list the master the local sentinel flags o_down in Consul; the tick tries again", "master", obs.ODownMaster, "error", err)
		return
	}
	d := Decide(obs)
	for _, in := range d.MarkDown {
		if err := n.o.Reg.MarkCritical(ctx, in, d.MarkDownNote); err != nil {
			n.log.Warn("mark the master the local sentinel flags o_down critical; the tick tries again", "master", obs.ODownMaster, "error", err)
			return
		}
		n.log.Warn("marked the master the local sentinel flags o_down critical in Consul", "master", obs.ODownMaster)
	}
}

// localODown is the master the local sentinel flags o_down: in its
// answer to this tick, or by a +odown event since.
func (n *Node) localODown(v sentinel.View) string {
	for _, a := range v.Answers {
		if a.Sentinel == n.selfSent && a.Err == nil && slices.Contains(a.Flags, "o_down") && a.Entry != n.self {
			return a.Entry
		}
	}
	return n.odownMaster()
}

// listedNotCritical lists Consul's `redis` registrations of addr whose
// TTL check is not critical.
func (n *Node) listedNotCritical(ctx context.Context, addr string) ([]registry.Instance, error) {
	all, err := n.o.Reg.Instances(ctx, registry.ServiceMaster, false)
	if err != nil {
		return nil, err
	}
	var out []registry.Instance
	for _, in := range all {
		if instance(in).addr() == addr && in.TTLStatus != api.HealthCritical {
			out = append(out, in)
		}
	}
	return out, nil
}
