package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Request is what a signal received by the process asks the node to do.
type Request int

// The requests, with the signals that make them (see the package doc).
const (
	RequestStop   Request = iota + 1 // SIGTERM, SIGINT, SIGQUIT
	RequestReload                    // SIGHUP
	RequestStatus                    // SIGUSR1
	RequestBackup                    // SIGUSR2
)

func (r Request) String() string {
	switch r {
	case RequestStop:
		return "stop"
	case RequestReload:
		return "reload"
	case RequestStatus:
		return "status"
	case RequestBackup:
		return "backup"
	}
	return fmt.Sprintf("Request(%d)", int(r))
}

var requestSignals = map[os.Signal]Request{
	syscall.SIGTERM: RequestStop,
	syscall.SIGINT:  RequestStop,
	syscall.SIGQUIT: RequestStop, // not Go's goroutine dump and exit 2: children would be orphaned
	syscall.SIGHUP:  RequestReload,
	syscall.SIGUSR1: RequestStatus,
	syscall.SIGUSR2: RequestBackup,
}

// DefaultSweepInterval is the default period of the reaper's safety sweep.
const DefaultSweepInterval = 2 * time.Second

// Options configure a Supervisor.
type Options struct {
	// Log is the logger; children log through Log.Named(child name).
	// Required.
	Log hclog.Logger
	// SweepInterval is how often the reaper calls wait4 even without a
	// SIGCHLD, as a safety net. 0 means DefaultSweepInterval.
	SweepInterval time.Duration
	// NoSignals leaves the process's signal handling alone: no Requests are
	// delivered. SIGCHLD is still consumed by the reaper.
	NoSignals bool
	// Env is the environment of children whose Command.Env is nil; nil
	// means the supervisor's own. PID 1 passes its own without secrets,
	// so that no child (a restore's private redis-server, a one-shot
	// check) inherits them by default.
	Env []string
}

func (o *Options) validate() error {
	if o.Log == nil {
		return fmt.Errorf("%w: Log is required", ErrInvalidOptions)
	}
	if o.SweepInterval < 0 {
		return fmt.Errorf("%w: SweepInterval %s is negative", ErrInvalidOptions, o.SweepInterval)
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	return nil
}

// Supervisor reaps every child of the process and supervises the children
// started through it. Create it with New, then call Start once.
type Supervisor struct {
	opts     Options
	log      hclog.Logger
	requests chan Request
	finished chan *Child
	done     chan struct{}
	orphans  atomic.Uint64

	// mu is held across fork and registration, and by the reaper while it
	// looks a reaped pid up.
	mu       sync.Mutex
	started  bool
	stopped  bool
	waiters  map[int]chan ExitStatus
	children []*Child
	devNull  *os.File
}

// New validates o and returns a Supervisor that is not started yet.
func New(o Options) (*Supervisor, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Supervisor{
		opts:     o,
		log:      o.Log,
		requests: make(chan Request, 16),
		finished: make(chan *Child, 64),
		done:     make(chan struct{}),
		waiters:  make(map[int]chan ExitStatus),
	}, nil
}

// reaping guards the one-reaper-per-process rule.
var reaping atomic.Bool

// Start installs the reaper and the signal handling, and makes the process a
// child subreaper when it is not PID 1. They run until ctx ends; end it only
// after StopAll, since children still running then are no longer waited for.
// Done is closed once they have stopped.
func (s *Supervisor) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrAlreadyStarted
	}
	if !reaping.CompareAndSwap(false, true) {
		return ErrReaperRunning
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		reaping.Store(false)
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	if err := s.becomeSubreaper(); err != nil {
		reaping.Store(false)
		devNull.Close()
		return err
	}
	s.devNull = devNull
	s.started = true
	go s.loop(ctx, s.notify())
	return nil
}

// Done is closed when the reaper and signal handling have stopped after the
// Start context ended.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Requests delivers what received signals ask for (see the package doc). A
// request is dropped, with a warning, when 16 are already waiting.
func (s *Supervisor) Requests() <-chan Request { return s.requests }

// Finished delivers each child that ended for good without being stopped:
// it gave up crash looping, or exited and its policy does not restart it.
// Child.Result says how. A child is dropped, with a warning, when 64 are
// already waiting; Child.Done is closed regardless.
func (s *Supervisor) Finished() <-chan *Child { return s.finished }

// OrphansReaped is how many exit statuses the reaper collected for pids it
// had not started: orphans re-parented to this process.
func (s *Supervisor) OrphansReaped() uint64 { return s.orphans.Load() }

// Children returns the children added so far, in the order of Add (for a
// status dump: Name, Pid, Running, Restarts).
func (s *Supervisor) Children() []*Child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Child(nil), s.children...)
}

// StopAll stops every child added so far in the reverse order of Add, each
// within its own StopGrace (see Child.Stop), and returns the errors of the
// stops that failed.
func (s *Supervisor) StopAll(ctx context.Context) error {
	children := s.Children()
	var errs []error
	for i := len(children) - 1; i >= 0; i-- {
		if err := children[i].Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Supervisor) loop(ctx context.Context, sigs <-chan os.Signal) {
	defer close(s.done)
	defer reaping.Store(false)
	defer s.stopNotify()
	sweep := time.NewTicker(s.opts.SweepInterval)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			s.reap()
			s.mu.Lock()
			s.stopped = true
			s.devNull.Close()
			s.mu.Unlock()
			return
		case sig := <-sigs:
			if sig == syscall.SIGCHLD {
				s.reap()
				continue
			}
			s.request(sig)
		case <-sweep.C:
			s.reap()
		}
	}
}

func (s *Supervisor) request(sig os.Signal) {
	r, ok := requestSignals[sig]
	if !ok {
		return
	}
	s.log.Info("signal received", "signal", sig, "request", r)
	select {
	case s.requests <- r:
	default:
		s.log.Warn("request dropped: too many waiting", "signal", sig, "request", r)
	}
}

// deliver hands a reaped status to whoever started pid.
func (s *Supervisor) deliver(pid int, st ExitStatus) {
	s.mu.Lock()
	ch, ok := s.waiters[pid]
	delete(s.waiters, pid)
	s.mu.Unlock()
	if !ok {
		s.orphans.Add(1)
		s.log.Debug("reaped orphan", "pid", pid, "status", st)
		return
	}
	ch <- st // buffered, one status per pid
}
