package supervisor

import (
	"errors"
	"fmt"
	"syscall"
)

// Exit codes of the program, as returned by [ExitCode].
const (
	ExitOK      = 0 // orderly stop
	ExitFailure = 1 // an error that is not a child's exit status
)

var (
	// ErrInvalidOptions is wrapped by New when Options are invalid.
	ErrInvalidOptions = errors.New("invalid supervisor options")
	// ErrInvalidSpec is wrapped by Add and Run when a spec is invalid.
	ErrInvalidSpec = errors.New("invalid child spec")
	// ErrNotStarted is returned by Add and Run before Start was called or
	// after the Start context ended.
	ErrNotStarted = errors.New("supervisor not started")
	// ErrAlreadyStarted is returned by a second call to Start.
	ErrAlreadyStarted = errors.New("supervisor already started")
	// ErrReaperRunning is returned by Start when another Supervisor in this
	// process is started: two wait4(-1) callers would steal each other's
	// children.
	ErrReaperRunning = errors.New("another supervisor is reaping in this process")
	// ErrCrashLoop is wrapped by the *ExitError of a child that exceeded
	// MaxRestarts consecutive short-lived runs.
	ErrCrashLoop = errors.New("child is crash looping")
	// ErrNotRunning is returned by Child.Signal when no process is running.
	ErrNotRunning = errors.New("child not running")
	// ErrStopTimeout is wrapped by Stop when the context ended before the
	// process was gone, even after SIGKILL.
	ErrStopTimeout = errors.New("child did not stop")
)

// ExitStatus is how a process ended. The zero value is a successful exit.
type ExitStatus struct {
	code   int
	signal syscall.Signal
}

// Exited returns the status of a process that exited with code.
func Exited(code int) ExitStatus { return ExitStatus{code: code} }

// Killed returns the status of a process killed by sig.
func Killed(sig syscall.Signal) ExitStatus { return ExitStatus{signal: sig} }

// Code is the exit code, or 128+signal when the process was killed by a
// signal, as a shell reports it.
func (s ExitStatus) Code() int {
	if s.signal != 0 {
		return 128 + int(s.signal)
	}
	return s.code
}

// Signaled reports whether the process was killed by a signal.
func (s ExitStatus) Signaled() bool { return s.signal != 0 }

// Signal is the signal that killed the process, or 0.
func (s ExitStatus) Signal() syscall.Signal { return s.signal }

// Success reports whether the process exited with code 0.
func (s ExitStatus) Success() bool { return s.signal == 0 && s.code == 0 }

// String is "exit status N" or "killed by signal NAME (128+N)".
func (s ExitStatus) String() string {
	if s.signal != 0 {
		return fmt.Sprintf("killed by signal %s (%d)", s.signal, s.Code())
	}
	return fmt.Sprintf("exit status %d", s.code)
}

// ExitError is a child or command that ended unsuccessfully: a one-shot
// command that did not exit 0, a RestartNever/RestartOnFailure child that
// ended on its own with a failure, or a child that gave up crash looping
// (then it wraps ErrCrashLoop).
type ExitError struct {
	Name     string     // the child's name
	Status   ExitStatus // its last status
	Restarts int        // restarts done before it ended
	Err      error      // ErrCrashLoop, or nil
}

func (e *ExitError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v after %d restarts: last %s", e.Name, e.Err, e.Restarts, e.Status)
	}
	return fmt.Sprintf("%s: %s", e.Name, e.Status)
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps the outcome of the program to its exit code: nil (an
// orderly stop) is 0; an *ExitError anywhere in err's chain is that child's
// status code (1 if that code is 0, since it still ended the program); any
// other error is ExitFailure.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) && ee.Status.Code() != 0 {
		return ee.Status.Code()
	}
	return ExitFailure
}
