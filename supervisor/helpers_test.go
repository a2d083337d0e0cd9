package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// logBuffer collects a supervisor's log for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the log lines containing msg.
func (l *logBuffer) lines(msg string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, msg) {
			out = append(out, line)
		}
	}
	return out
}

// startSupervisor starts a Supervisor logging at debug level into the
// returned buffer; at the end of the test it stops every child and the
// reaper, and prints the log when the test failed.
func startSupervisor(t *testing.T) (*Supervisor, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: buf})
	s, err := New(Options{Log: log, SweepInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
		defer stop()
		if err := s.StopAll(stopCtx); err != nil {
			t.Errorf("StopAll: %v", err)
		}
		cancel()
		<-s.Done()
		if t.Failed() {
			t.Logf("supervisor log:\n%s", buf.String())
		}
	})
	return s, buf
}

// addChild adds spec to s or fails the test.
func addChild(t *testing.T, s *Supervisor, spec ChildSpec) *Child {
	t.Helper()
	c, err := s.Add(spec)
	if err != nil {
		t.Fatalf("Add %s: %v", spec.Name, err)
	}
	return c
}

// shell is a Command running script with /bin/sh.
func shell(name, script string) Command {
	return Command{Name: name, Path: "/bin/sh", Args: []string{"-c", script}}
}

// procStat is the state and parent of a process, from /proc/PID/stat.
type procStat struct {
	pid, ppid int
	comm      string
	state     byte
}

// processes lists every process this /proc shows.
func processes() []procStat {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []procStat
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(string(b[end+1:]))
		if len(fields) < 2 {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:open])))
		ppid, _ := strconv.Atoi(fields[1])
		out = append(out, procStat{pid: pid, ppid: ppid, comm: string(b[open+1 : end]), state: fields[0][0]})
	}
	return out
}

// children counts the processes whose parent is ppid: all of them, and the
// zombies among them.
func children(ppid int, comm string) (n, zombies int) {
	for _, p := range processes() {
		if p.ppid != ppid || (comm != "" && p.comm != comm) {
			continue
		}
		n++
		if p.state == 'Z' {
			zombies++
		}
	}
	return n, zombies
}

// noZombies is a wait condition: no zombie children of ppid.
func noZombies(ppid int) func() error {
	return func() error {
		if _, z := children(ppid, ""); z != 0 {
			return fmt.Errorf("%d zombie children of pid %d", z, ppid)
		}
		return nil
	}
}
