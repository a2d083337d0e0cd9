package supervisor

import (
	"errors"
	"fmt"
	"time"
)

var errStopping = errors.New("child is stopping")

// start starts a process of the child unless it is stopping.
func (c *Child) start() (<-chan ExitStatus, error) {
	if c.spec.BeforeStart != nil {
		if err := c.spec.BeforeStart(); err != nil {
			return nil, fmt.Errorf("before starting %s: %w", c.spec.Name, err)
		}
	}
	out, err := newOutput(c.outLog, 0)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		out.closeWrite()
		out.drain(outputDrain)
		return nil, errStopping
	}
	p, exited, err := c.s.spawn(&c.spec.Command, out.w)
	out.closeWrite()
	if err != nil {
		out.drain(outputDrain)
		return nil, err
	}
	c.proc, c.startedAt, c.out = p, time.Now(), out
	c.log.Info("child started", "pid", p.Pid, "path", c.spec.path)
	return exited, nil
}

// restart starts the child again. A failed start is reported as an exit
// with status 127 right away, so it counts as a crash; when the child is
// stopping, last is reported again and the caller sees the stop.
func (c *Child) restart(last ExitStatus) <-chan ExitStatus {
	exited, err := c.start()
	if err == nil {
		c.mu.Lock()
		c.restarts++
		c.mu.Unlock()
		return exited
	}
	ch := make(chan ExitStatus, 1)
	if errors.Is(err, errStopping) {
		ch <- last
		return ch
	}
	c.log.Error("child restart failed", "error", err)
	c.mu.Lock()
	c.startedAt = time.Now()
	c.restarts++
	c.mu.Unlock()
	ch <- Exited(127)
	return ch
}

// supervise waits for each process of the child and applies the restart
// policy until the child ends for good.
func (c *Child) supervise(exited <-chan ExitStatus) {
	defer close(c.done)
	short := 0 // consecutive runs shorter than MinUptime
	for {
		st := <-exited
		// The last lines of a dying child (redis's crash report) are in the
		// pipe when it is reaped: log them before its end is reported, or
		// PID 1 may exit first (TestPID1 lost "worker-got-term" under load).
		c.drainOutput()
		uptime, stopping := c.reaped(st)
		switch {
		case stopping:
			c.log.Info("child stopped", "status", st)
			c.finish(st, nil, false)
			return
		case !c.spec.Restart.restarts(st):
			c.log.Info("child exited; not restarting", "status", st, "uptime", uptime)
			c.finish(st, failure(c, st, nil), true)
			return
		}
		short++
		if uptime >= c.spec.MinUptime {
			short = 0 // a long run: not a crash, the backoff starts over
		}
		if c.spec.MaxRestarts > 0 && short > c.spec.MaxRestarts {
			c.log.Error("child is crash looping; giving up", "restarts", c.Restarts(), "status", st)
			c.finish(st, failure(c, st, ErrCrashLoop), true)
			return
		}
		delay := c.spec.backoff(max(short, 1))
		c.log.Warn("child exited; restarting", "status", st, "uptime", uptime, "delay", delay)
		if !c.sleep(delay) {
			c.log.Info("child stopped", "status", st)
			c.finish(st, nil, false)
			return
		}
		exited = c.restart(st)
	}
}

// reaped records that the current process is gone and releases it.
func (c *Child) reaped(st ExitStatus) (uptime time.Duration, stopping bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		c.proc.Release()
		c.proc = nil
	}
	c.status = st
	return time.Since(c.startedAt), c.stopping
}

// drainOutput logs what the ended process left in its output pipe.
func (c *Child) drainOutput() {
	c.mu.Lock()
	out := c.out
	c.out = nil
	c.mu.Unlock()
	if out != nil {
		out.drain(outputDrain)
	}
}

// sleep waits d; false when the child is stopped meanwhile.
func (c *Child) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.stopCh:
		return false
	}
}

func failure(c *Child, st ExitStatus, cause error) error {
	if st.Success() && cause == nil {
		return nil
	}
	return &ExitError{Name: c.spec.Name, Status: st, Restarts: c.Restarts(), Err: cause}
}

// finish records the end; ends not caused by Stop go to Finished.
func (c *Child) finish(st ExitStatus, err error, report bool) {
	c.mu.Lock()
	c.status, c.err = st, err
	c.mu.Unlock()
	if !report {
		return
	}
	select {
	case c.s.finished <- c:
	default:
		c.log.Warn("finished child not reported: too many waiting")
	}
}
