package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// becomeSubreaper makes this process a child subreaper unless it is PID 1
// (which is one already), so orphaned descendants are re-parented to it.
func (s *Supervisor) becomeSubreaper() error {
	if os.Getpid() == 1 {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_CHILD_SUBREAPER: %w", err)
	}
	s.log.Debug("became child subreaper", "pid", os.Getpid())
	return nil
}

func (s *Supervisor) notify() <-chan os.Signal {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD)
	if !s.opts.NoSignals {
		for sig := range requestSignals {
			signal.Notify(sigs, sig)
		}
	}
	return sigs
}

func (s *Supervisor) stopNotify() {
	signal.Reset(syscall.SIGCHLD)
	if !s.opts.NoSignals {
		for sig := range requestSignals {
			signal.Reset(sig)
		}
	}
}

// reap collects every exited child, known or not, until none is left. It
// is the only wait4 caller of the program.
func (s *Supervisor) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return // ECHILD: no children; 0: none exited yet
		}
		if !ws.Exited() && !ws.Signaled() {
			continue // stopped or continued: not an exit
		}
		s.deliver(pid, waitStatus(ws))
	}
}

func waitStatus(ws unix.WaitStatus) ExitStatus {
	if ws.Signaled() {
		return Killed(syscall.Signal(ws.Signal()))
	}
	return Exited(ws.ExitStatus())
}

// spawn starts cmd with stdout and stderr on out and registers its pid for
// the reaper, under the mutex the reaper takes before looking pids up.
func (s *Supervisor) spawn(cmd *Command, out *os.File) (*os.Process, <-chan ExitStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.stopped {
		return nil, nil, ErrNotStarted
	}
	env := cmd.Env
	if env == nil {
		env = s.opts.Env
	}
	attr := &os.ProcAttr{
		Dir:   cmd.Dir,
		Env:   env,
		Files: []*os.File{s.devNull, out, out},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Credential: cmd.Credential},
	}
	argv := append([]string{cmd.Path}, cmd.Args...)
	p, err := os.StartProcess(cmd.path, argv, attr)
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", cmd.Name, err)
	}
	ch := make(chan ExitStatus, 1)
	s.waiters[p.Pid] = ch
	return p, ch, nil
}

// pending reports whether the output pipe holds unread bytes (FIONREAD).
func (o *output) pending() bool {
	rc, err := o.r.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	cerr := rc.Control(func(fd uintptr) { n, err = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
	return cerr == nil && err == nil && n > 0
}

// killGroup sends SIGKILL to the process group pgid. Every child is started
// as the leader of a group of its own (Setpgid), so its pid is the group's
// id, and the group holds what the child started: a shell's commands, a
// redis fork. SIGKILL to the pid alone left those running, re-parented to
// PID 1. The stop signal still goes to the pid only: a child that handles
// it stops its own children (redis kills its save child) and may need them
// until then.
//
// Callers signal only a child not yet reaped: while the leader or any
// member is alive, Linux does not give the group's id to a new process, so
// the signal cannot reach a stranger.
func killGroup(pgid int) {
	_ = unix.Kill(-pgid, unix.SIGKILL) // ESRCH: the whole group is gone
}
