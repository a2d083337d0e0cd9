package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// observe reads: local INFO, the local agent's registrations, the
// sentinels' majority view. It changes nothing. When Consul does not
// answer it stops there and says so in ConsulErr.
func (n *Node) observe(ctx context.Context) Observation {
	obs := Observation{Self: n.self, SelfSentinel: n.selfSent, At: time.Now(),
		CatalogLostBefore: n.catalogLost, RecordedMaster: n.recordedMaster,
		ForgottenFor: n.forgottenFor, ForgottenSince: n.forgottenSince, RepointAfter: repointGrace(n.o.DownAfter)}
	// A frozen redis must not use up the tick: the sentinel's check and
	// the sentinels' view do not depend on it.
	ictx, cancel := context.WithTimeout(ctx, max(n.o.PollInterval/3, 100*time.Millisecond))
	obs.Info, obs.InfoErr = n.peers.Info(ictx)
	cancel()
	obs.SentinelOK = n.peers.PingSentinel(ctx) == nil
	obs.ConsulErr = n.observeConsul(ctx, &obs)
	return obs
}

// observeConsul fills in what observe reads from Consul, and the
// sentinels' view (their list comes from Consul).
func (n *Node) observeConsul(ctx context.Context, obs *Observation) error {
	ids, err := n.o.Reg.LocalServiceIDs(ctx)
	if err != nil {
		return err
	}
	for _, name := range []string{registry.ServiceMaster, registry.ServiceReplica} {
		if ids[registry.ServiceID(name, n.o.AdvertiseAddr, n.o.RedisPort)] {
			obs.Registered = name
		}
	}
	obs.SentinelRegistered = ids[registry.ServiceID(registry.ServiceSentinel, n.o.AdvertiseAddr, n.o.SentinelPort)]
	if obs.Catalog, err = n.o.Reg.LocalNodeInCatalog(ctx); err != nil {
		return err
	}
	addrs, err := n.sentinelAddrs(ctx, false)
	if err != nil {
		return err
	}
	obs.Sentinels = addrs
	replica := obs.InfoErr == nil && obs.Info.Role() == redisnode.RoleReplica
	master := obs.InfoErr == nil && obs.Info.Role() == redisnode.RoleMaster
	v, verr := n.askView(ctx, addrs, replica)
	obs.SentinelAsked = true
	obs.SentinelMaster, obs.SentinelErr = v.Master, verr
	obs.SentinelAlarms = v.Alarms(n.self)
	obs.MarkedCritical = obs.Catalog.Marked[registry.ServiceID(obs.Registered, n.o.AdvertiseAddr, n.o.RedisPort)]
	if master && obs.SentinelMaster == n.self {
		obs.OtherMaster, obs.StaleMasters, err = n.otherPassingMasters(ctx)
	}
	if master && obs.SentinelMaster != "" && obs.SentinelMaster != n.self {
		// Replaced: whether a sentinel still lists this node is in their
		// replicas, asked for only here (a master's every tick need not).
		rv, _ := n.askView(ctx, addrs, true)
		err = n.observeForgotten(ctx, obs, rv)
	}
	if replica {
		obs.PromotableBy = v.PromotableBy(n.self)
		obs.ODownMaster = n.localODown(v)
		if err == nil && obs.ODownMaster != "" {
			obs.ODownListed, err = n.listedNotCritical(ctx, obs.ODownMaster)
		}
		if err == nil && obs.SentinelMaster != "" && follows(obs.Info) != obs.SentinelMaster {
			// Following another node than the one the sentinels name:
			// whether one of them knows this node is in v's replicas.
			err = n.observeForgotten(ctx, obs, v)
		}
	}
	return err
}

// otherPassingMasters sorts the other nodes Consul lists as redis: the
// first passing one that still answers as master (this node waits for it
// to step down), and those that do not answer as master and whose TTL
// check is not critical yet (stale). A node that died with its agent is
// critical only through serfHealth, with its TTL check still passing in
// the catalog: when its new agent joins, Consul would list it as a passing
// redis beside this one until that agent syncs (found by the reliability
// suite's old-master-returns). Marking it critical first prevents that.
func (n *Node) otherPassingMasters(ctx context.Context) (live string, stale []registry.Instance, err error) {
	all, err := n.o.Reg.Instances(ctx, registry.ServiceMaster, false)
	if err != nil {
		return "", nil, err
	}
	for _, in := range others(all, n.self) {
		passing := in.Status == api.HealthPassing
		if !passing && in.TTLStatus == api.HealthCritical {
			continue
		}
		if n.peers.ProbeMaster(ctx, in.addr()) == nil {
			if passing && live == "" {
				live = in.addr()
			}
			continue
		}
		stale = append(stale, registry.Instance(in))
	}
	return live, stale, nil
}

// sentinelAddrs is the local sentinel, first, and the others registered
// in Consul: only the passing ones when passingOnly, else all of them. The
// tick counts its majority over every registered sentinel, failing ones
// included: counted over the passing ones only, a master cut off from the
// others whose checks have lapsed would be confirmed by its own sentinel
// alone.
func (n *Node) sentinelAddrs(ctx context.Context, passingOnly bool) ([]string, error) {
	addrs := []string{n.selfSent}
	sentinels, err := n.o.Reg.Instances(ctx, registry.ServiceSentinel, passingOnly)
	if err != nil {
		return nil, err
	}
	for _, in := range others(sentinels, n.selfSent) {
		addrs = append(addrs, in.addr())
	}
	return addrs, nil
}

// askSentinels returns the master a majority of addrs agree on.
func (n *Node) askSentinels(ctx context.Context, addrs []string) (string, error) {
	v, err := n.askView(ctx, addrs, false)
	return v.Master, err
}

// askView asks addrs for the master and its flags, within the ask budget,
// and with replicas for each sentinel's replicas of it too.
func (n *Node) askView(ctx context.Context, addrs []string, replicas bool) (sentinel.View, error) {
	ctx, cancel := context.WithTimeout(ctx, n.askTimeout())
	defer cancel()
	v, err := n.peers.Ask(ctx, addrs, replicas)
	n.reportBadPeers(v.Answers)
	return v, err
}

// askTimeout bounds one round of questions to the sentinels.
func (n *Node) askTimeout() time.Duration {
	return min(2*time.Second, max(n.o.PollInterval/2, 200*time.Millisecond))
}

// probeMaster checks that addr answers and reports role:master.
func (n *Node) probeMaster(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := redisnode.Dial(addr, n.o.Password)
	defer c.Close()
	info, err := c.Info(ctx, "replication")
	if err != nil {
		return err
	}
	if info.Role() != redisnode.RoleMaster {
		return fmt.Errorf("%s reports role %s", addr, info.RedisRole())
	}
	return nil
}
