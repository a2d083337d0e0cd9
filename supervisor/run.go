package supervisor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Defaults of Command.
const (
	DefaultStopGrace = 10 * time.Second
	// outputDrain is how long Run waits for the output pipe to reach EOF
	// after the command exited (a daemonised grandchild may keep it open).
	outputDrain = time.Second
)

// Command is a process to start: a one-shot command for Run, or the process
// of a supervised child (ChildSpec.Command).
type Command struct {
	// Name names the process in logs and errors; its output is logged
	// through a logger of that name. Required.
	Name string
	// Path is the program; without a slash it is looked up in PATH. It is
	// also argv[0]. Required.
	Path string
	// Args are the arguments after argv[0]. Secrets do not belong here.
	Args []string
	// Env is the environment; nil means Options.Env, else the
	// supervisor's own.
	Env []string
	// Dir is the working directory; empty means the supervisor's.
	Dir string
	// Credential, when set, runs the process as that user and group (and
	// supplementary groups): PID 1 stays root to reap and to own the
	// directories, its children need not be. nil runs it as the supervisor.
	Credential *syscall.Credential
	// StopSignal asks the process to stop; nil means SIGTERM.
	StopSignal os.Signal
	// StopGrace is how long a stop waits after StopSignal before SIGKILL;
	// 0 means DefaultStopGrace.
	StopGrace time.Duration
	// CaptureLimit (Run only) keeps up to this many bytes of the combined
	// stdout and stderr in Result.Output, besides logging them; 0 keeps none.
	CaptureLimit int

	path string // Path resolved by validate
}

func (c *Command) validate() error {
	if c.Name == "" {
		return fmt.Errorf("%w: Name is required", ErrInvalidSpec)
	}
	if c.Path == "" {
		return fmt.Errorf("%w: %s: Path is required", ErrInvalidSpec, c.Name)
	}
	if c.StopGrace < 0 || c.CaptureLimit < 0 {
		return fmt.Errorf("%w: %s: StopGrace and CaptureLimit must not be negative", ErrInvalidSpec, c.Name)
	}
	if c.StopSignal == nil {
		c.StopSignal = syscall.SIGTERM
	}
	if c.StopGrace == 0 {
		c.StopGrace = DefaultStopGrace
	}
	c.path = c.Path
	if !strings.Contains(c.Path, "/") {
		p, err := exec.LookPath(c.Path)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidSpec, c.Name, err)
		}
		c.path = p
	}
	return nil
}

// Result is how a one-shot command ended.
type Result struct {
	Status    ExitStatus
	Output    []byte // the first CaptureLimit bytes of stdout and stderr
	Truncated bool   // the command wrote more than CaptureLimit bytes
}

// Run starts cmd, logs its output, and waits for it through the reaper. When
// ctx ends first, the command gets StopSignal, then SIGKILL after StopGrace,
// and Run returns ctx's error wrapped. A command that does not exit 0 is an
// *ExitError. The Result is filled in every case the command started.
func (s *Supervisor) Run(ctx context.Context, cmd Command) (Result, error) {
	if err := cmd.validate(); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("run %s: %w", cmd.Name, err)
	}
	out, err := newOutput(s.log.Named(cmd.Name), cmd.CaptureLimit)
	if err != nil {
		return Result{}, fmt.Errorf("run %s: %w", cmd.Name, err)
	}
	p, exited, err := s.spawn(&cmd, out.w)
	out.closeWrite()
	if err != nil {
		out.drain(outputDrain)
		return Result{}, err
	}
	var st ExitStatus
	select {
	case st = <-exited:
	case <-ctx.Done():
		st = terminate(p, exited, cmd.StopSignal, cmd.StopGrace)
	}
	p.Release()
	out.drain(outputDrain)
	res := Result{Status: st}
	res.Output, res.Truncated = out.captured()
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("run %s: %w (%s)", cmd.Name, ctx.Err(), st)
	case !st.Success():
		return res, &ExitError{Name: cmd.Name, Status: st}
	}
	return res, nil
}

// terminate sends sig, waits up to grace for the exit, then sends SIGKILL
// to the process group (see killGroup) and waits for the exit.
func terminate(p *os.Process, exited <-chan ExitStatus, sig os.Signal, grace time.Duration) ExitStatus {
	_ = p.Signal(sig) // fails only when already gone: exited delivers then
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case st := <-exited:
		return st
	case <-t.C:
	}
	select {
	case st := <-exited: // reaped meanwhile: its pid may name no group now
		return st
	default:
	}
	killGroup(p.Pid)
	return <-exited
}
