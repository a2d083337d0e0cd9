package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

func TestRunExitStatus(t *testing.T) {
	s, logs := startSupervisor(t)
	tests := []struct {
		name     string
		script   string
		code     int
		signal   syscall.Signal
		output   string
		exitCode int // ExitCode of Run's error
	}{
		{name: "success", script: "echo all good", code: 0, output: "all good\n", exitCode: ExitOK},
		{name: "exit3", script: "echo failing; exit 3", code: 3, output: "failing\n", exitCode: 3},
		{name: "sigkill", script: "echo dying >&2; kill -KILL $$", code: 137, signal: syscall.SIGKILL, output: "dying\n", exitCode: 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := shell(tt.name, tt.script)
			cmd.CaptureLimit = 1024
			res, err := s.Run(context.Background(), cmd)
			if got := res.Status.Code(); got != tt.code {
				t.Errorf("Status.Code() = %d (%s), want %d", got, res.Status, tt.code)
			}
			if res.Status.Signal() != tt.signal || res.Status.Signaled() != (tt.signal != 0) {
				t.Errorf("Status.Signal() = %v, want %v", res.Status.Signal(), tt.signal)
			}
			if string(res.Output) != tt.output || res.Truncated {
				t.Errorf("Output = %q (truncated %v), want %q", res.Output, res.Truncated, tt.output)
			}
			var ee *ExitError
			if (tt.code == 0) != (err == nil) || (err != nil && !errors.As(err, &ee)) {
				t.Errorf("err = %v, want an *ExitError only for a failure", err)
			}
			if got := ExitCode(err); got != tt.exitCode {
				t.Errorf("ExitCode(%v) = %d, want %d", err, got, tt.exitCode)
			}
			want := "test." + tt.name + ": " + strings.TrimSpace(tt.output)
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks the command's output line %q", want)
			}
		})
	}
}

func TestExitStatusString(t *testing.T) {
	tests := []struct {
		st   ExitStatus
		want string
	}{
		{Exited(0), "exit status 0"},
		{Exited(3), "exit status 3"},
		{Killed(syscall.SIGKILL), "killed by signal killed (137)"},
		{Killed(syscall.SIGTERM), "killed by signal terminated (143)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.st.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
	if got := ExitCode(errors.New("config: bad")); got != ExitFailure {
		t.Errorf("ExitCode(plain error) = %d, want %d", got, ExitFailure)
	}
}

func TestRunCaptureIsBounded(t *testing.T) {
	s, _ := startSupervisor(t)
	cmd := shell("big", "head -c 100000 /dev/zero | tr '\\0' x")
	cmd.CaptureLimit = 1000
	res, err := s.Run(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Output) != 1000 || !res.Truncated || strings.Trim(string(res.Output), "x") != "" {
		t.Errorf("Output: %d bytes, truncated %v; want 1000 bytes of x, truncated", len(res.Output), res.Truncated)
	}
}

func TestRunCancelKillsAfterGrace(t *testing.T) {
	s, _ := startSupervisor(t)
	cmd := shell("stubborn", `trap "" TERM; exec sleep 1000`)
	cmd.StopGrace = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := s.Run(ctx, cmd)
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if res.Status.Code() != 137 {
		t.Errorf("status %s, want SIGKILL (137) after ignoring SIGTERM", res.Status)
	}
	if elapsed < 500*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("Run took %s, want the 200ms deadline plus the 300ms grace", elapsed)
	}
}

func TestValidation(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("New without Log: %v, want ErrInvalidOptions", err)
	}
	s, _ := startSupervisor(t)
	tests := []struct {
		name string
		spec ChildSpec
	}{
		{"no name", ChildSpec{Command: Command{Path: "/bin/true"}}},
		{"no path", ChildSpec{Command: Command{Name: "x"}}},
		{"not on PATH", ChildSpec{Command: Command{Name: "x", Path: "no-such-program-here"}}},
		{"negative", ChildSpec{Command: shell("x", "true"), MaxRestarts: -1}},
		{"backoff", ChildSpec{Command: shell("x", "true"), BackoffInitial: time.Second, BackoffMax: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Add(tt.spec); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("Add: %v, want ErrInvalidSpec", err)
			}
		})
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second Start: %v, want ErrAlreadyStarted", err)
	}
	other, _ := New(Options{Log: s.log})
	if err := other.Start(context.Background()); !errors.Is(err, ErrReaperRunning) {
		t.Errorf("Start of a second supervisor: %v, want ErrReaperRunning", err)
	}
	if _, err := other.Run(context.Background(), shell("x", "true")); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Run on a supervisor not started: %v, want ErrNotStarted", err)
	}
}

// TestOrphansAreReaped double-forks 100 orphans: each is re-parented to this
// process (a subreaper, since it is not PID 1) and reaped, leaving no zombie.
func TestOrphansAreReaped(t *testing.T) {
	s, _ := startSupervisor(t)
	const n = 100
	before := s.OrphansReaped()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Run(context.Background(), shell("forker", "(sleep 1.5 &) ; exit 0"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	me := os.Getpid()
	harness.Eventually(t, 10*time.Second, func() error {
		if got, _ := children(me, "sleep"); got < n && s.OrphansReaped()-before < n {
			return errors.New("orphaned sleeps not re-parented to the test process yet")
		}
		return nil
	})
	harness.Eventually(t, 10*time.Second, func() error {
		if got := s.OrphansReaped() - before; got < n {
			return fmt.Errorf("reaped %d orphans, want %d", got, n)
		}
		return nil
	})
	harness.Eventually(t, 5*time.Second, noZombies(me))
}
