package forget

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/internal/guard"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// LockKey is the Consul lock the cleaning node holds; its value names it.
const LockKey = "service/redis/locks/forget"

// LockName is the lock's label in metrics.
const LockName = "forget"

// ErrInvalidOptions is returned by New for unusable Options.
var ErrInvalidOptions = errors.New("invalid forget options")

// Events are told what the cleaner does (metrics implement them).
type Events interface {
	// ForgetAction counts an action (Reset, Deregister) and its outcome,
	// "done" or "failed".
	ForgetAction(action, outcome string)
	LockAcquired(name string)
	LockReleased(name string)
}

type noEvents struct{}

func (noEvents) ForgetAction(string, string) {}
func (noEvents) LockAcquired(string)         {}
func (noEvents) LockReleased(string)         {}

// Options configure a Cleaner.
type Options struct {
	Log hclog.Logger
	Reg *registry.Registry
	// Holder names this node in the lock's value (its redis address).
	Holder string
	// MasterName is the sentinels' name for the master ("mymaster").
	MasterName string
	Password   string
	// Grace is SENTINEL_FORGET_AFTER; Interval the pause between steps.
	Grace, Interval time.Duration
	Events          Events
	// Step, when set, is told every decision before it is applied (tests).
	Step func(Observation, Decision)
}

// Cleaner forgets departed replicas and sentinels; see the package doc.
type Cleaner struct {
	o       Options
	log     hclog.Logger
	mem     *memory
	reason  string // the last reason logged
	lastErr string // the last step error logged
}

// New checks o and returns a Cleaner.
func New(o Options) (*Cleaner, error) {
	switch {
	case o.Reg == nil:
		return nil, fmt.Errorf("%w: Reg is required", ErrInvalidOptions)
	case o.Grace <= 0 || o.Interval <= 0:
		return nil, fmt.Errorf("%w: Grace and Interval must be positive", ErrInvalidOptions)
	case o.MasterName == "":
		return nil, fmt.Errorf("%w: MasterName is required", ErrInvalidOptions)
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Events == nil {
		o.Events = noEvents{}
	}
	return &Cleaner{o: o, log: o.Log}, nil
}

// Run waits for the lock, then steps every Interval while it holds it,
// until ctx ends. It returns nil then.
func (c *Cleaner) Run(ctx context.Context) error {
	failing := false
	for ctx.Err() == nil {
		l, err := c.o.Reg.Acquire(ctx, LockKey, c.o.Holder)
		if err != nil {
			if ctx.Err() == nil {
				if !failing { // once per outage, not every Interval
					c.log.Warn("take the cleanup lock; trying again", "key", LockKey, "error", err)
				}
				failing = true
				ctxtime.Sleep(ctx, c.o.Interval)
			}
			continue
		}
		failing = false
		c.o.Events.LockAcquired(LockName)
		c.log.Info("this node forgets departed replicas and sentinels for the cluster", "key", LockKey, "grace", c.o.Grace)
		c.hold(ctx, l)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := l.Release(rctx); err != nil {
			c.log.Warn("release the cleanup lock", "error", err)
		}
		cancel()
		c.o.Events.LockReleased(LockName)
	}
	return nil
}

// hold steps while l is held and ctx lasts. Memory starts afresh: what
// another holder saw is not known here.
func (c *Cleaner) hold(ctx context.Context, l *registry.Lock) {
	c.mem, c.reason = newMemory(), ""
	t := time.NewTicker(c.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.Lost():
			c.log.Warn("cleanup lock lost; no longer forgetting", "error", l.Err())
			return
		case <-t.C:
		}
		c.safeStep(ctx, l)
	}
}

// safeStep is Step; a panic is logged as an ERROR and is that step's end.
func (c *Cleaner) safeStep(ctx context.Context, l *registry.Lock) {
	var err error
	defer func() {
		// Logged when it changes: Consul down fails every step alike.
		if err != nil && err.Error() != c.lastErr {
			c.log.Error("cleanup step failed", "error", err)
		}
		c.lastErr = ""
		if err != nil {
			c.lastErr = err.Error()
		}
	}()
	defer guard.Catch(&err, "cleanup step")
	sctx, cancel := context.WithTimeout(ctx, max(c.o.Interval, 2*time.Second))
	defer cancel()
	err = c.Step(sctx, l.Lost())
}

// Step observes, decides and applies one decision, unless lost is closed
// by then. The cleaner must hold the lock.
func (c *Cleaner) Step(ctx context.Context, lost <-chan struct{}) error {
	if c.mem == nil {
		c.mem = newMemory()
	}
	o, err := c.observe(ctx)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	d := Decide(o)
	if c.o.Step != nil {
		c.o.Step(o, d)
	}
	if d.Reason != c.reason && (d.Action == Idle || d.Action == Wait) {
		c.log.Info("cleanup decision", "action", d.Action, "reason", d.Reason)
	}
	c.reason = d.Reason
	select {
	case <-lost:
		return nil
	default:
	}
	return c.apply(ctx, d)
}

// apply does what d says, and logs and counts it.
func (c *Cleaner) apply(ctx context.Context, d Decision) error {
	switch d.Action {
	case Deregister:
		var errs []error
		for _, in := range d.Remove {
			err := c.o.Reg.RemoveFromCatalog(ctx, in)
			c.count(d, err)
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("%s, decided because %s: %w", d.Action, d.Reason, err)
		}
		c.log.Info("registrations of departed nodes removed", "count", len(d.Remove), "reason", d.Reason)
	case Reset:
		err := c.reset(ctx, d)
		c.count(d, err)
		if err != nil {
			return fmt.Errorf("%s, decided because %s: %w", d.Action, d.Reason, err)
		}
		c.log.Info("sentinel reset to forget departed replicas and sentinels", "sentinel", d.Sentinel,
			"forgets", strings.Join(d.Departed, ","), "reason", d.Reason)
		c.reason = ""
	}
	return nil
}

func (c *Cleaner) count(d Decision, err error) {
	outcome := "done"
	if err != nil {
		outcome = "failed"
	}
	c.o.Events.ForgetAction(string(d.Action), outcome)
}
