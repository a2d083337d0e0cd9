package lifecycle

import (
	"context"
	"errors"

	"github.com/autopilotpattern/redis-autopilot/internal/guard"
	"github.com/autopilotpattern/redis-autopilot/internal/resplimit"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// Peers are input (docs/ARCHITECTURE.md rule 11): whoever can register a
// `redis-sentinel` in Consul is asked by every tick. What they send is
// bounded before it is read (resplimit), a panic in a tick is an error of
// that tick, and a panic anywhere in the node's run still ends in the
// ordered stop.

// run is what Run does before it stops: start, then reconcile until ctx
// ends. A panic is returned as an error wrapping guard.ErrPanic.
func (n *Node) run(ctx context.Context) (err error) {
	defer guard.Catch(&err, "node")
	if err = n.startLoop(ctx); err != nil {
		return err
	}
	n.watchSentinel(ctx)
	go n.watchPlanned(ctx)
	n.reconcile(ctx)
	return nil
}

// safeStop is Stop; a panic in it is returned as an error, so PID 1 still
// stops the children that are left.
func (n *Node) safeStop(ctx context.Context) (err error) {
	defer guard.Catch(&err, "stop the node")
	return n.Stop(ctx)
}

// safeTick is Tick; a panic is logged as an ERROR and is that tick's
// error: the next tick decides again.
func (n *Node) safeTick(ctx context.Context) (d Decision, err error) {
	defer func() {
		if errors.Is(err, guard.ErrPanic) {
			n.log.Error("reconcile tick panicked; the next tick decides again", "error", err, "stack", panicStack(err))
		}
	}()
	defer guard.Catch(&err, "reconcile tick")
	return n.Tick(ctx)
}

func panicStack(err error) string {
	var pe *guard.PanicError
	if errors.As(err, &pe) {
		return string(pe.Stack)
	}
	return ""
}

// reportBadPeers logs an ERROR, once until it answers again, for each
// sentinel whose reply was rejected or made the read panic: the decision
// is made without it.
func (n *Node) reportBadPeers(answers []sentinel.Answer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range answers {
		bad := errors.Is(a.Err, resplimit.ErrRejected) || errors.Is(a.Err, guard.ErrPanic)
		switch {
		case bad && !n.badPeers[a.Sentinel]:
			if n.badPeers == nil {
				n.badPeers = map[string]bool{}
			}
			n.badPeers[a.Sentinel] = true
			n.log.Error("a sentinel sent a reply that was not read; deciding without it", "sentinel", a.Sentinel, "error", a.Err)
		case !bad && a.Err == nil && n.badPeers[a.Sentinel]:
			delete(n.badPeers, a.Sentinel)
			n.log.Info("a sentinel that sent a bad reply answers again", "sentinel", a.Sentinel)
		}
	}
}
