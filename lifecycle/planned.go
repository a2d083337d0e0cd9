package lifecycle

import (
	"context"
	"encoding/json"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// A planned failover (`redis-autopilot failover`) holds
// registry.KeyFailoverLock (a Consul lock, with a session) for as long as
// it runs; its value names the master being handed over. That master's
// node keeps its writes fenced while the key is held: the failover may run
// on any node, and the master's own reconcile tick would otherwise lift,
// at its next tick, a fence it did not decide.

// PlannedRequest is the value of registry.KeyFailoverLock.
type PlannedRequest struct {
	// Master is the "ip:port" being handed over; To the replica asked for
	// ("" lets Sentinel choose); By who runs it (host and pid).
	Master string `json:"master"`
	To     string `json:"to,omitempty"`
	By     string `json:"by"`
}

const (
	// maxPlannedValue bounds what is read from registry.KeyFailoverLock.
	maxPlannedValue = 4096
	// maxPlannedFence bounds how long one request keeps the fence up when
	// nobody lets go of it: the key's session outlives a failover that
	// died only by its TTL, but a node cut off from Consul would not see
	// even that.
	maxPlannedFence = 2 * time.Minute
	// plannedWatchWait bounds each blocking read of registry.KeyFailoverLock.
	plannedWatchWait = 30 * time.Second
)

// planned is what the node's watch of registry.KeyFailoverLock last saw.
type planned struct {
	req     PlannedRequest
	session string
	since   time.Time // when this node first saw that session hold the key
}

// watchPlanned follows registry.KeyFailoverLock with blocking reads until ctx
// ends, and ticks at once when a planned failover starts or ends. On
// errors it keeps what it saw last (bounded by maxPlannedFence) and tries
// again with backoff.
func (n *Node) watchPlanned(ctx context.Context) {
	defer n.recoverPeer("planned failover watch")
	var index uint64
	wait := 250 * time.Millisecond
	failing := false
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, plannedWatchWait+10*time.Second)
		st, err := n.o.Reg.WatchKey(wctx, registry.KeyFailoverLock, index, plannedWatchWait, maxPlannedValue)
		cancel()
		if err != nil {
			if !failing && ctx.Err() == nil {
				n.log.Warn("watch the planned failover key; trying again", "key", registry.KeyFailoverLock, "error", err)
			}
			failing = true
			if ctxtime.Sleep(ctx, wait) != nil {
				return
			}
			wait = min(2*wait, followBackoffMax)
			continue
		}
		failing, wait, index = false, 250*time.Millisecond, st.Index
		var req PlannedRequest
		held := st.Found && st.Session != "" && json.Unmarshal([]byte(st.Value), &req) == nil
		if n.setPlanned(held, req, st.Session) {
			if n.alarmed() {
				n.fenceAtOnce(ctx)
			}
			n.Kick()
		}
	}
}

// setPlanned records the request seen and reports whether it changed.
func (n *Node) setPlanned(held bool, req PlannedRequest, session string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !held {
		changed := n.planned.session != ""
		n.planned = planned{}
		return changed
	}
	if n.planned.session == session && n.planned.req == req {
		return false
	}
	n.planned = planned{req: req, session: session, since: time.Now()}
	if req.Master == n.self {
		n.log.Warn("a planned failover is handing this master over", "by", req.By, "to", nonEmpty(req.To))
	}
	return true
}

// plannedFor describes the planned failover of this node under way, or
// is "".
func (n *Node) plannedFor() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.planned
	if p.session == "" || p.req.Master != n.self || time.Since(p.since) > maxPlannedFence {
		return ""
	}
	return "redis-autopilot failover run by " + p.req.By
}
