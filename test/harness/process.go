package harness

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

func claimPort(p int) bool {
	portsMu.Lock()
	defer portsMu.Unlock()
	if ports[p] {
		return false
	}
	ports[p] = true
	return true
}

// Process is a real process a test started. Its output goes to LogPath.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// startProcess starts path with args, output to logPath, and stops it at the
// end of the test.
func startProcess(t testing.TB, name, logPath string, path string, args ...string) *Process {
	t.Helper()
	return StartProcess(t, ProcessOptions{Name: name, LogPath: logPath, Path: path, Args: args})
}

// ProcessOptions say how to start a process for a test.
type ProcessOptions struct {
	Name    string
	LogPath string   // stdout and stderr are appended here
	Path    string   // the program
	Args    []string // after argv[0]
	Env     []string // nil inherits the test's environment
	Dir     string
}

// StartProcess starts a process in its own process group, output to
// o.LogPath, and stops it (SIGTERM, then SIGKILL after 10s) at the end of
// the test.
func StartProcess(t testing.TB, o ProcessOptions) *Process {
	t.Helper()
	name, logPath, path, args := o.Name, o.LogPath, o.Path, o.Args
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("open log for %s: %v", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env, cmd.Dir = o.Env, o.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.Stop() })
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return errors.New(p.Name + " has exited")
	}
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL to the process group and waits for the process to end.
func (p *Process) Kill() {
	if !p.Exited() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-p.done
}

// Stop sends SIGTERM, waits up to 10s, then kills. Idempotent.
func (p *Process) Stop() {
	if p.Exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Kill()
	}
}

// ExitCode is the exit code once the process has ended (-1 while it runs,
// 128+signal when a signal killed it).
func (p *Process) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return p.cmd.ProcessState.ExitCode()
}

// Tail returns the last n lines of the process's log.
func (p *Process) Tail(n int) string { return logTail(p.LogPath, n) }
