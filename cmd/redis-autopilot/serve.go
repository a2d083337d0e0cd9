package main

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/internal/guard"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// serveNode answers the supervisor's requests and watches the children
// until node.Run ends; it returns the exit code.
func serveNode(ctx context.Context, log hclog.Logger, sup *supervisor.Supervisor, w wiredNode, stop context.CancelFunc, done <-chan error) int {
	code := exitOK
	for {
		select {
		case err := <-done:
			if err != nil {
				log.Error("node stopped", "error", err)
				if code == exitOK {
					code = exitFailure
				}
			}
			return code
		case req := <-sup.Requests():
			serveRequest(ctx, log, w, req, stop)
		case c := <-sup.Finished():
			if failed, ok := requiredChildFailed(log, c); ok {
				code = failed
				stop()
				guard.TestPoint("child-failed")
			}
		}
	}
}

// serveRequest carries out one request the supervisor turned a signal into.
func serveRequest(ctx context.Context, log hclog.Logger, w wiredNode, req supervisor.Request, stop context.CancelFunc) {
	switch req {
	case supervisor.RequestStop:
		log.Info("stop requested; stopping in order")
		stop()
	case supervisor.RequestBackup:
		log.Info("backup requested (SIGUSR2)")
		w.backups.Now()
	case supervisor.RequestReload:
		log.Info("reload requested (SIGHUP)")
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := w.node.Reload(rctx); err != nil {
			log.Error("reload", "error", err)
		}
		cancel()
	case supervisor.RequestStatus:
		guard.TestPoint("status")
		st := w.node.Status()
		log.Info("status", "role", st.Role, "master", st.Master, "registered_as", st.Registered,
			"passing", st.Passing, "reason", st.Reason)
		w.node.Kick()
	}
}

// requiredChildFailed says whether a finished child stops the node, and
// with which exit code. Only a required child (redis-server,
// redis-sentinel) giving up does; the consul agent restarts without
// limit, and one-off children (the restore's private redis) end by design.
func requiredChildFailed(log hclog.Logger, c *supervisor.Child) (int, bool) {
	code, cerr := requiredChildCode(c)
	if cerr == nil {
		return 0, false
	}
	log.Error("a required child ended for good; stopping the node", "child", c.Name(), "error", cerr)
	return code, true
}

// requiredChildCode is the exit code a required child that ended for good
// gives the program, and why it ended; a nil error for any other child.
func requiredChildCode(c *supervisor.Child) (int, error) {
	_, cerr := c.Result()
	if cerr == nil || !c.Required() {
		return 0, nil
	}
	code := supervisor.ExitCode(cerr)
	if code == exitOK {
		code = exitFailure
	}
	return code, cerr
}

// exitAfterPanic is the exit code after a panic: the status of a required
// child that ended for good (before the panic, or during the stop after
// it), as without a panic, so a container's user sees redis-server's;
// else 1.
func exitAfterPanic(sup *supervisor.Supervisor) int {
	for _, c := range sup.Children() {
		if code, cerr := requiredChildCode(c); cerr != nil {
			return code
		}
	}
	return exitFailure
}
