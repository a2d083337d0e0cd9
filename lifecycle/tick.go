package lifecycle

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// lockerAdapter gives registry's *Lock as the Lock interface.
type lockerAdapter struct{ r *registry.Registry }

func (a lockerAdapter) Acquire(ctx context.Context, key, holder string) (Lock, error) {
	l, err := a.r.Acquire(ctx, key, holder)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// askSentinels returns the master a majority of addrs agree on.
func (n *Node) askSentinels(ctx context.Context, addrs []string) (string, error) {
	v, err := n.askView(ctx, addrs)
	return v.Master, err
}

// askView asks addrs for the master and its flags, within the ask budget.
func (n *Node) askView(ctx context.Context, addrs []string) (sentinel.View, error) {
	ctx, cancel := context.WithTimeout(ctx, n.askTimeout())
	defer cancel()
	v, err := sentinel.Ask(ctx, addrs, MasterName, n.o.Password)
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

// Tick observes, decides and applies the decision to the registration. It
// is the only place that changes the registration after start.
//
// Observing and applying have a PollInterval each: sentinels behind a
// partition (dropped packets) can use up the observation's time, and the
// decision they lead to (fail the check) must still reach Consul — found by
// the reliability suite, where a cut-off master stayed passing until its
// TTL lapsed.
func (n *Node) Tick(ctx context.Context) (Decision, error) {
	octx, cancel := context.WithTimeout(ctx, n.o.PollInterval)
	obs := n.observe(octx)
	cancel()
	if len(obs.Sentinels) > 0 {
		n.followSentinels(ctx, obs.Sentinels)
	}
	// An alarm raised while this tick observed counts: fenceAtOnce may
	// have fenced on it, and this tick must not lift that fence on an
	// older view.
	n.fenceMu.Lock()
	obs.EventAlarms, obs.Planned = n.currentEventAlarms(), n.plannedFor()
	d := Decide(obs)
	if (obs.SentinelAsked || d.Fence) && obs.InfoErr == nil {
		// Fencing needs only redis and the sentinels: it is done even when
		// Consul does not answer (a failover event or a planned failover
		// seen earlier raises it without asking anybody). Not when redis
		// did not answer INFO: a frozen redis would hold the tick, and the
		// check that must fail with it.
		fctx, cancel := context.WithTimeout(ctx, max(n.o.PollInterval/3, 100*time.Millisecond))
		n.fence(fctx, d.Fence, d.Note)
		cancel()
	}
	n.fenceMu.Unlock()
	err := obs.ConsulErr
	if err == nil {
		actx, cancel := context.WithTimeout(ctx, n.o.PollInterval)
		err = n.apply(actx, obs, d)
		cancel()
	}
	n.record(obs, d, err)
	return d, err
}

// observe reads: local INFO, the local agent's registrations, the
// sentinels' majority view. It changes nothing. When Consul does not
// answer it stops there and says so in ConsulErr.
func (n *Node) observe(ctx context.Context) Observation {
	obs := Observation{Self: n.self}
	// A frozen redis must not use up the tick: the sentinel's check and
	// the sentinels' view do not depend on it.
	ictx, cancel := context.WithTimeout(ctx, max(n.o.PollInterval/3, 100*time.Millisecond))
	obs.Info, obs.InfoErr = n.redis.Info(ictx)
	cancel()
	obs.SentinelOK = n.sent.Ping(ctx) == nil
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
	for _, name := range []string{ServiceMaster, ServiceReplica} {
		if ids[registry.ServiceID(name, n.o.AdvertiseAddr, n.o.RedisPort)] {
			obs.Registered = name
		}
	}
	obs.SentinelRegistered = ids[registry.ServiceID(ServiceSentinel, n.o.AdvertiseAddr, n.o.SentinelPort)]
	if obs.Catalog, err = n.o.Reg.LocalNodeInCatalog(ctx); err != nil {
		return err
	}
	addrs, err := n.sentinelAddrs(ctx, false)
	if err != nil {
		return err
	}
	obs.Sentinels = addrs
	v, verr := n.askView(ctx, addrs)
	obs.SentinelAsked = true
	obs.SentinelMaster, obs.SentinelErr = v.Master, verr
	obs.SentinelAlarms = v.Alarms(n.self)
	if obs.Info.Role() == redisnode.RoleMaster && obs.SentinelMaster == n.self {
		obs.OtherMaster, obs.StaleMasters, err = n.otherPassingMasters(ctx)
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
	all, err := n.o.Reg.Instances(ctx, ServiceMaster, false)
	if err != nil {
		return "", nil, err
	}
	for _, in := range others(all, n.self) {
		passing := in.Status == api.HealthPassing
		if !passing && in.TTLStatus == api.HealthCritical {
			continue
		}
		if n.probeMaster(ctx, in.addr()) == nil {
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
	sentinels, err := n.o.Reg.Instances(ctx, ServiceSentinel, passingOnly)
	if err != nil {
		return nil, err
	}
	for _, in := range others(sentinels, n.selfSent) {
		addrs = append(addrs, in.addr())
	}
	return addrs, nil
}

// apply makes the registration what d says.
func (n *Node) apply(ctx context.Context, obs Observation, d Decision) error {
	if err := n.restoreCatalog(ctx, obs); err != nil {
		return err
	}
	// First the dead masters go critical, then this one may pass: never
	// both passing at once.
	for _, in := range obs.StaleMasters {
		note := fmt.Sprintf("marked critical by %s: it does not answer as master and a majority of sentinels name %s", n.self, n.self)
		if err := n.o.Reg.MarkCritical(ctx, in, note); err != nil {
			return fmt.Errorf("mark the dead master %s critical before passing: %w", net.JoinHostPort(in.Address, strconv.Itoa(in.Port)), err)
		}
	}
	if obs.Registered != d.Service {
		if err := n.o.Reg.Register(ctx, n.service(d.Service, n.o.RedisPort)); err != nil {
			return err
		}
		if obs.Registered != "" {
			old := registry.ServiceID(obs.Registered, n.o.AdvertiseAddr, n.o.RedisPort)
			if err := n.o.Reg.Deregister(ctx, old); err != nil {
				return err
			}
		}
		n.log.Info("registry changed", "from", nonEmpty(obs.Registered), "to", d.Service, "reason", d.Reason)
	}
	id := registry.ServiceID(d.Service, n.o.AdvertiseAddr, n.o.RedisPort)
	if err := n.check(ctx, id, d.Pass, d.Note); err != nil {
		return err
	}
	n.recordLastMaster(ctx, d)
	sid := registry.ServiceID(ServiceSentinel, n.o.AdvertiseAddr, n.o.SentinelPort)
	note := "sentinel answers PING"
	if !d.SentinelPass {
		note = "sentinel does not answer PING"
	}
	if !obs.SentinelRegistered {
		// The agent lost it (restarted without state): register again.
		if err := n.o.Reg.Register(ctx, n.service(ServiceSentinel, n.o.SentinelPort)); err != nil {
			return err
		}
	}
	return n.check(ctx, sid, d.SentinelPass, note)
}

// lastMasterRefresh is how often a passing master writes LastMasterKey
// again (the KV store may have been wiped).
const lastMasterRefresh = time.Minute

// recordLastMaster names this node in LastMasterKey when it starts passing
// as master, and every lastMasterRefresh while it does. A failure is
// logged and retried next tick: the key only orders a whole-cluster
// restart.
func (n *Node) recordLastMaster(ctx context.Context, d Decision) {
	if d.Service != ServiceMaster || !d.Pass {
		n.recordedMaster = time.Time{}
		return
	}
	if time.Since(n.recordedMaster) < lastMasterRefresh {
		return
	}
	if err := n.o.Reg.Put(ctx, LastMasterKey, n.self); err != nil {
		n.log.Warn("record this node as the last master", "key", LastMasterKey, "error", err)
		return
	}
	n.recordedMaster = time.Now()
}

// restoreCatalog puts this node back into the servers' catalog when they
// lost it (a Consul server restored from nothing): the agent joins the
// servers again, so the leader registers its node, and this node's
// services are registered anew, so the agent syncs them at once. Left to
// itself, the agent waits for its next gossip push-pull and full sync,
// which took over 90 s in the reliability suite's consul-wiped.
func (n *Node) restoreCatalog(ctx context.Context, obs Observation) error {
	redisID := registry.ServiceID(obs.Registered, n.o.AdvertiseAddr, n.o.RedisPort)
	sentID := registry.ServiceID(ServiceSentinel, n.o.AdvertiseAddr, n.o.SentinelPort)
	lostRedis := obs.Registered != "" && !obs.Catalog.ServiceIDs[redisID]
	lostSent := obs.SentinelRegistered && !obs.Catalog.ServiceIDs[sentID]
	lost := !obs.Catalog.NodeRegistered || lostRedis || lostSent
	// A registration made moments ago may not have reached the servers
	// yet: a service counts as lost when two ticks in a row miss it
	// (registering again resets its check until the pass that follows).
	wasLost := n.catalogLost
	n.catalogLost = lost
	if !lost {
		n.catalogWarned = false
		return nil
	}
	if obs.Catalog.NodeRegistered && !wasLost {
		return nil
	}
	if !n.catalogWarned {
		n.catalogWarned = true
		n.log.Warn("the Consul servers do not list this node or its services (a server that lost its state?); joining and registering again",
			"node", obs.Catalog.Node, "node_listed", obs.Catalog.NodeRegistered)
	}
	if !obs.Catalog.NodeRegistered && len(n.o.ConsulJoin) > 0 {
		if err := n.o.Reg.Join(ctx, n.o.ConsulJoin); err != nil {
			n.log.Warn("join the Consul servers again", "error", err)
		}
	}
	// The agent takes an identical registration as already in sync: it
	// must forget the service first, then sync the new one.
	for _, l := range []struct {
		lost bool
		svc  registry.Service
	}{{lostRedis, n.service(obs.Registered, n.o.RedisPort)}, {lostSent, n.service(ServiceSentinel, n.o.SentinelPort)}} {
		if !l.lost {
			continue
		}
		if err := n.o.Reg.Deregister(ctx, l.svc.ID); err != nil {
			return err
		}
		if err := n.o.Reg.Register(ctx, l.svc); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) check(ctx context.Context, id string, pass bool, note string) error {
	if pass {
		return n.o.Reg.Pass(ctx, id, note)
	}
	return n.o.Reg.Fail(ctx, id, note)
}

func nonEmpty(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// record keeps the status and logs the decision when its reason changes.
func (n *Node) record(obs Observation, d Decision, err error) {
	now := time.Now()
	n.mu.Lock()
	changed := n.status.Reason != d.Reason
	n.status.Role = d.Role
	n.status.Registered = d.Service
	n.status.Passing = d.Pass && err == nil
	n.status.SentinelMaster = obs.SentinelMaster
	n.status.SentinelError = errString(obs.SentinelErr)
	n.status.Reason = d.Reason
	n.status.DecidedAt = now
	if changed {
		n.status.ReasonSince = now
	}
	if obs.SentinelMaster != "" {
		n.status.Master = obs.SentinelMaster
	} else if d.Role == RoleMaster {
		n.status.Master = n.self
	} else if obs.Info != nil && obs.Info.MasterHost() != "" {
		n.status.Master = net.JoinHostPort(obs.Info.MasterHost(), strconv.Itoa(obs.Info.MasterPort()))
	}
	prevErr := n.status.TickError
	n.status.TickError = errString(err)
	st := n.status
	n.mu.Unlock()
	if changed {
		n.log.Info("decision", "role", nonEmpty(string(d.Role)), "service", d.Service, "passing", d.Pass, "reason", d.Reason)
	}
	if err != nil {
		n.o.Events.ConsulError("reconcile")
	}
	if err != nil && st.TickError != prevErr {
		n.log.Error("reconcile tick failed", "error", err)
	}
	if n.o.Observe != nil {
		n.o.Observe(st)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimSpace(err.Error())
}
