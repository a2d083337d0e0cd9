package supervisor

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// RestartPolicy says when a child that exited on its own is started again.
type RestartPolicy int

// The restart policies.
const (
	RestartNever     RestartPolicy = iota // never
	RestartOnFailure                      // unless it exited 0
	RestartAlways                         // always
)

func (p RestartPolicy) restarts(st ExitStatus) bool {
	return p == RestartAlways || (p == RestartOnFailure && !st.Success())
}

// Defaults of ChildSpec.
const (
	DefaultMinUptime      = 10 * time.Second
	DefaultBackoffInitial = time.Second
	DefaultBackoffMax     = 30 * time.Second
	// killWait bounds the wait for a process to vanish after SIGKILL.
	killWait = 5 * time.Second
)

// ChildSpec is a long-lived child and its restart policy.
type ChildSpec struct {
	Command
	// Restart is the restart policy; the zero value is RestartNever.
	Restart RestartPolicy
	// MaxRestarts is the crash-loop limit: the child is given up when it
	// ends more than MaxRestarts consecutive times each within MinUptime of
	// its start. 0 means no limit.
	MaxRestarts int
	// MinUptime is the run time after which an exit no longer counts as a
	// crash: the backoff and the crash-loop count start over. 0 means
	// DefaultMinUptime.
	MinUptime time.Duration
	// BackoffInitial is the delay before the first restart; each further
	// consecutive short run doubles it, up to BackoffMax. 0 means
	// DefaultBackoffInitial and DefaultBackoffMax.
	BackoffInitial, BackoffMax time.Duration
	// BeforeStart, when set, runs before every start of the child, the
	// first and each restart, e.g. to make a config file the child
	// rewrote valid again (Sentinel 7.0 rewrites auth-pass unquoted). Its
	// error fails that start: Add returns it, and a restart counts it as
	// a crash.
	BeforeStart func() error
	// Required says the program cannot go on without this child: when it
	// ends for good (exited under RestartNever, or given up crash
	// looping), the program stops with its status (see ExitCode). The
	// supervisor only reports it (Child.Required on Finished); the caller
	// stops.
	Required bool
}

func (c *ChildSpec) validate() error {
	if err := c.Command.validate(); err != nil {
		return err
	}
	if c.MaxRestarts < 0 || c.MinUptime < 0 || c.BackoffInitial < 0 || c.BackoffMax < 0 {
		return fmt.Errorf("%w: %s: negative MaxRestarts, MinUptime or backoff", ErrInvalidSpec, c.Name)
	}
	if c.Restart < RestartNever || c.Restart > RestartAlways {
		return fmt.Errorf("%w: %s: unknown restart policy %d", ErrInvalidSpec, c.Name, c.Restart)
	}
	c.MinUptime = cmp(c.MinUptime, DefaultMinUptime)
	c.BackoffInitial = cmp(c.BackoffInitial, DefaultBackoffInitial)
	c.BackoffMax = cmp(c.BackoffMax, max(DefaultBackoffMax, c.BackoffInitial))
	if c.BackoffMax < c.BackoffInitial {
		return fmt.Errorf("%w: %s: BackoffMax %s is less than BackoffInitial %s", ErrInvalidSpec, c.Name, c.BackoffMax, c.BackoffInitial)
	}
	return nil
}

func cmp(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// backoff is the delay before the restart after short consecutive short
// runs: BackoffInitial * 2^(short-1), capped at BackoffMax.
func (c *ChildSpec) backoff(short int) time.Duration {
	d := c.BackoffInitial
	for i := 1; i < short && d < c.BackoffMax; i++ {
		d *= 2
	}
	return min(d, c.BackoffMax)
}

// Child is a supervised process, restarted according to its ChildSpec until
// it is stopped, gives up, or exits under a policy that does not restart it.
type Child struct {
	s      *Supervisor
	spec   ChildSpec
	log    hclog.Logger // lifecycle messages, with "child" = name
	outLog hclog.Logger // the child's own output
	stopCh chan struct{}
	done   chan struct{}

	mu        sync.Mutex
	proc      *os.Process
	out       *output // the running process's output, drained when it ends
	startedAt time.Time
	restarts  int
	stopping  bool
	status    ExitStatus
	err       error
}

// Add validates spec, starts the child now and supervises it. It returns an
// error when the first start fails; later failed starts count as crashes.
func (s *Supervisor) Add(spec ChildSpec) (*Child, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	c := &Child{
		s:      s,
		spec:   spec,
		log:    s.log.With("child", spec.Name),
		outLog: s.log.Named(spec.Name),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
	exited, err := c.start()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.children = append(s.children, c)
	s.mu.Unlock()
	go c.supervise(exited)
	return c, nil
}

// Name is the child's name.
func (c *Child) Name() string { return c.spec.Name }

// Required is its spec's Required.
func (c *Child) Required() bool { return c.spec.Required }

// Pid is the pid of the running process, or 0.
func (c *Child) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return 0
	}
	return c.proc.Pid
}

// Running reports whether a process of the child is running (not yet reaped).
func (c *Child) Running() bool { return c.Pid() != 0 }

// Restarts is how many times the child was restarted.
func (c *Child) Restarts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarts
}

// Done is closed when the child has ended for good: stopped, given up, or
// exited under a policy that does not restart it.
func (c *Child) Done() <-chan struct{} { return c.done }

// Result is the last exit status and, once Done is closed, why the child
// ended: nil when it was stopped or exited 0; an *ExitError otherwise,
// wrapping ErrCrashLoop when it gave up.
func (c *Child) Result() (ExitStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.err
}

// Signal sends sig to the running process; ErrNotRunning when there is none.
func (c *Child) Signal(sig os.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return fmt.Errorf("signal %s: %w", c.spec.Name, ErrNotRunning)
	}
	if err := c.proc.Signal(sig); err != nil {
		return fmt.Errorf("signal %s: %w", c.spec.Name, err)
	}
	return nil
}

// killGroup sends SIGKILL to the running process's group: see killGroup.
func (c *Child) killGroup() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil { // nil: reaped, and Done follows
		killGroup(c.proc.Pid)
	}
}

// Stop stops the child for good: it sends StopSignal, waits up to
// StopGrace, then sends SIGKILL to its process group (its own children
// too: see killGroup). A pending restart is cancelled. Stop is
// idempotent and safe to call concurrently; every call returns once the
// child is Done, or with an error wrapping ErrStopTimeout when the process
// survived ctx's end and SIGKILL.
func (c *Child) Stop(ctx context.Context) error {
	c.mu.Lock()
	first := !c.stopping
	c.stopping = true
	running := c.proc != nil
	c.mu.Unlock()
	if first {
		close(c.stopCh)
		if running {
			c.log.Info("stopping child", "signal", c.spec.StopSignal, "grace", c.spec.StopGrace)
			_ = c.Signal(c.spec.StopSignal) // not running: Done follows
		}
	}
	grace := time.NewTimer(c.spec.StopGrace)
	defer grace.Stop()
	select {
	case <-c.done:
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	c.log.Warn("child did not stop in time; killing its process group", "grace", c.spec.StopGrace)
	c.killGroup()
	kill := time.NewTimer(killWait)
	defer kill.Stop()
	select {
	case <-c.done:
		return nil
	case <-kill.C:
		return fmt.Errorf("stop %s: %w", c.spec.Name, ErrStopTimeout)
	}
}
