package lifecycle

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"
)

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
	n.noteForgotten(obs.At, d.Forgotten)
	if d.Repoint != "" {
		n.repoint(ctx, d)
	}
	err := obs.ConsulErr
	if err == nil {
		actx, cancel := context.WithTimeout(ctx, n.o.PollInterval)
		err = n.apply(actx, obs, d)
		cancel()
	}
	n.record(obs, d, err)
	return d, err
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
