package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// errFailoverAborted: the sentinel asked for SENTINEL FAILOVER ended the
// failover without switching (its log says why: -failover-abort-*).
var errFailoverAborted = errors.New("the sentinel aborted the failover")

// handoverPoll is how often the hand-over looks at offsets and Sentinel.
var handoverPoll = 50 * time.Millisecond

// handover is the hand-over protocol, shared by the master's own
// hand-over before it stops (Node.handOver) and the planned failover any
// node runs (PlannedFailover): fence writes, wait until the replicas have
// the offset reached at the fence, ask a sentinel for SENTINEL FAILOVER,
// wait until a majority of sentinels name the new master. Sentinel
// promotes a replica while the old master still accepts writes and its
// other replicas still acknowledge WAIT; only this order loses none of
// them (found when a raw SENTINEL FAILOVER lost WAIT-1 writes, issue 18).
type handover struct {
	log hclog.Logger
	// master is the "ip:port" being handed over; redis is a client of it.
	master string
	redis  *redisnode.Client
	// sent is the sentinel asked to fail over.
	sent     *sentinel.Client
	password string
	// askTimeout bounds one round of questions to the sentinels.
	askTimeout time.Duration
	// fence raises the write fence on the master and returns once it is up.
	fence func(ctx context.Context) error
	// confirmers are the sentinels a majority of which must name the new
	// master.
	confirmers func(ctx context.Context) ([]string, error)
	// to, when set, is the replica that must be promoted.
	to string
	// catchUp, when set, bounds the wait for the replicas once writes are
	// fenced.
	catchUp time.Duration
	// requested is set once the sentinel accepted SENTINEL FAILOVER.
	requested bool
}

// run carries the protocol out and returns the new master. The fence stays
// up whatever happens: the caller decides when it may be lifted.
func (h *handover) run(ctx context.Context) (string, error) {
	if err := h.fence(ctx); err != nil {
		return "", err
	}
	fenced, err := h.redis.Info(ctx, "replication")
	if err != nil {
		return "", fmt.Errorf("read the master's offset at the fence: %w", err)
	}
	if fenced.Role() != redisnode.RoleMaster {
		return "", fmt.Errorf("%s is no longer master (role %s): the sentinels moved on by themselves", h.master, fenced.RedisRole())
	}
	h.log.Info("handing over: writes fenced", "master", h.master, "offset", fenced.MasterReplOffset())
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if h.catchUp > 0 {
		cctx, cancel = context.WithTimeout(ctx, h.catchUp)
	}
	err = h.waitReplicasCaughtUp(cctx, fenced.MasterReplOffset())
	cancel()
	if err != nil {
		return "", err
	}
	h.log.Info("handing over: replicas have every acknowledged write; asking sentinel to fail over", "sentinel", h.sent.Addr())
	unknown := h.unknownReplicas(ctx, fenced)
	if err := h.requestFailover(ctx); err != nil {
		return "", err
	}
	h.requested = true
	h.log.Info("handing over: failover started; waiting for the sentinels to agree on the new master")
	m, err := h.waitHandedOver(ctx)
	if err == nil {
		h.repointUnknown(ctx, m, unknown)
	}
	return m, err
}

// unknownReplicas are the replicas connected at the fence, online or still
// in their first sync, that the sentinel asked to fail over does not
// list. It leads the failover and re-points only the replicas it knows:
// one that joined a moment ago (a sentinel reads the master's INFO every
// 10 s) would go on following this master, dead after a stop, a replica
// after a planned failover (the reliability suite's rolling
// replacement). When the sentinel does not answer, none is taken for
// unknown: the nodes re-point theirs later (decideRepoint).
func (h *handover) unknownReplicas(ctx context.Context, fenced redisnode.Info) []string {
	rctx, cancel := context.WithTimeout(ctx, h.askTimeout)
	known, err := h.sent.Replicas(rctx, MasterName)
	cancel()
	if err != nil {
		return nil
	}
	listed := map[string]bool{}
	for _, r := range known {
		listed[r.Addr()] = true
	}
	var out []string
	for _, r := range fenced.Replicas() {
		if !listed[r.Addr()] {
			out = append(out, r.Addr())
		}
	}
	if len(out) > 0 {
		h.log.Info("handing over: the sentinel does not know some replicas yet; they are re-pointed once it has failed over",
			"sentinel", h.sent.Addr(), "replicas", strings.Join(out, ", "))
	}
	return out
}

// repointUnknown makes each of the replicas the failover's leader did not
// know, and that still follows this master, a replica of the new master,
// as Sentinel does with the ones it knows (REPLICAOF, then CONFIG
// REWRITE). Failures are logged: the replica's own node re-points it
// later.
func (h *handover) repointUnknown(ctx context.Context, master string, replicas []string) {
	host, port, err := splitAddr(master)
	if err != nil {
		h.log.Warn("cannot re-point the replicas the sentinel did not know", "error", err)
		return
	}
	for _, addr := range replicas {
		if addr == master {
			continue
		}
		if err := h.repointOne(ctx, addr, master, host, port); err != nil {
			h.log.Warn("re-point a replica the sentinel did not know; its node will", "replica", addr, "master", master, "error", err)
		}
	}
}

// repointOne makes the replica at addr, if it still follows this master,
// a replica of master (host:port), within 2 s.
func (h *handover) repointOne(ctx context.Context, addr, master, host string, port int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := redisnode.Dial(addr, h.password)
	defer c.Close()
	info, err := c.Info(ctx, "replication")
	if err != nil {
		return err
	}
	if info.Role() != redisnode.RoleReplica || follows(info) != h.master {
		// Sentinel got to it, or something else did.
		h.log.Info("handed over: a replica the sentinel did not know no longer follows this node",
			"replica", addr, "role", info.RedisRole(), "master", follows(info))
		return nil
	}
	if err := c.ReplicaOf(ctx, host, port); err != nil {
		return err
	}
	h.log.Info("handed over: re-pointed a replica the sentinel did not know", "replica", addr, "master", master)
	if err := c.Redis().ConfigRewrite(ctx).Err(); err != nil {
		h.log.Warn("write the new master into the re-pointed replica's redis.conf (CONFIG REWRITE)", "replica", addr, "error", err)
	}
	return nil
}

// requestFailover asks the sentinel to fail over, unless the sentinels
// have already moved on from the master.
func (h *handover) requestFailover(ctx context.Context) error {
	for {
		m, err := h.sent.GetMasterAddr(ctx, MasterName)
		if err == nil && m != h.master {
			return nil
		}
		err = h.sent.Failover(ctx, MasterName)
		if err == nil {
			return nil
		}
		h.log.Info("SENTINEL FAILOVER refused; retrying", "error", err)
		if serr := ctxtime.Sleep(ctx, 200*time.Millisecond); serr != nil {
			return fmt.Errorf("sentinel failover: %w", err)
		}
	}
}

// waitHandedOver waits until a majority of the confirmers name a new
// master, and returns it.
func (h *handover) waitHandedOver(ctx context.Context) (string, error) {
	addrs, err := h.confirmers(ctx)
	if err != nil {
		return "", err
	}
	if len(addrs) == 0 {
		return "", errors.New("no other sentinel is registered to confirm the new master")
	}
	for {
		actx, cancel := context.WithTimeout(ctx, h.askTimeout)
		m, _, err := sentinel.AskMajority(actx, addrs, MasterName, h.password)
		cancel()
		if err != nil || m == h.master {
			if aerr := h.aborted(ctx); aerr != nil {
				return "", aerr
			}
		}
		if err == nil && m != h.master {
			if h.to != "" && m != h.to {
				return m, fmt.Errorf("the sentinels promoted %s, not %s", m, h.to)
			}
			h.log.Info("handed over", "new_master", m, "sentinels", len(addrs))
			return m, nil
		}
		if serr := ctxtime.Sleep(ctx, handoverPoll); serr != nil {
			return "", fmt.Errorf("wait for a majority of the %d sentinels to name a new master: %w", len(addrs), serr)
		}
	}
}

// aborted returns errFailoverAborted when the sentinel that was asked to
// fail over, the failover's leader, no longer flags it in progress while
// its entry still has the old master: the flag is set before SENTINEL
// FAILOVER answers, and the entry moves to the new master when it ends.
func (h *handover) aborted(ctx context.Context) error {
	if !h.requested {
		return nil
	}
	in, err := h.sent.Master(ctx, MasterName)
	if err != nil || in.Addr() != h.master || in.HasFlag("failover_in_progress") {
		return nil
	}
	return fmt.Errorf("%w of %s (see its log for -failover-abort-*)", errFailoverAborted, h.master)
}

func onlineReplicas(info redisnode.Info) []redisnode.Replica {
	var out []redisnode.Replica
	for _, r := range info.Replicas() {
		if r.State == "online" {
			out = append(out, r)
		}
	}
	return out
}

// waitReplicasCaughtUp waits until every online replica acknowledged
// offset.
func (h *handover) waitReplicasCaughtUp(ctx context.Context, offset int64) error {
	for {
		info, err := h.redis.Info(ctx, "replication")
		if err != nil {
			return err
		}
		behind := 0
		for _, r := range onlineReplicas(info) {
			if r.Offset < offset {
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if err := ctxtime.Sleep(ctx, handoverPoll); err != nil {
			return fmt.Errorf("wait for %d replicas to reach offset %d: %w", behind, offset, err)
		}
	}
}

// waitSentinelKnowsReplica waits until the sentinel lists a replica it
// could promote (h.to, when set): connected, not down, with its link to
// the master up. Sentinel learns of replicas from the master's INFO every
// 10 s; one that joined moments ago is not a candidate yet.
func (h *handover) waitSentinelKnowsReplica(ctx context.Context) error {
	for {
		rs, err := h.sent.Replicas(ctx, MasterName)
		if err == nil {
			for _, r := range rs {
				if promotable(r) && (h.to == "" || r.Addr() == h.to) {
					return nil
				}
			}
		}
		if serr := ctxtime.Sleep(ctx, handoverPoll); serr != nil {
			return fmt.Errorf("wait for the sentinel %s to know a replica it can promote: %w", h.sent.Addr(), serr)
		}
	}
}

// promotable is what Sentinel asks of a replica before it promotes it
// (besides its priority).
func promotable(r sentinel.Instance) bool {
	return !r.Down() && !r.HasFlag("disconnected") && r.Fields["master-link-status"] == "ok"
}
