package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"golang.org/x/sys/unix"
)

func TestBackoff(t *testing.T) {
	spec := ChildSpec{BackoffInitial: 100 * time.Millisecond, BackoffMax: time.Second}
	want := map[int]time.Duration{1: 100, 2: 200, 3: 400, 4: 800, 5: 1000, 30: 1000}
	for short, ms := range want {
		t.Run(strconv.Itoa(short), func(t *testing.T) {
			if got := spec.backoff(short); got != ms*time.Millisecond {
				t.Errorf("backoff(%d) = %s, want %s", short, got, ms*time.Millisecond)
			}
		})
	}
}

// startTimes reads the start times a child script appended to path.
func startTimes(path string) ([]time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for _, f := range strings.Fields(string(b)) {
		ns, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %q: %w", f, err)
		}
		out = append(out, time.Unix(0, ns))
	}
	return out, nil
}

// TestRestartBackoffGrows: each consecutive short run doubles the delay
// before the restart. The delays are read from the supervisor's log (its
// decision); the start times only show each delay was waited. Comparing
// successive gaps between start times flaked under load: a gap also holds
// the time to fork and run the shell, which a loaded machine stretches by
// more than the 100 ms the first delays differ by.
func TestRestartBackoffGrows(t *testing.T) {
	s, logs := startSupervisor(t)
	stamps := filepath.Join(t.TempDir(), "starts")
	cmd := shell("flaky", `date +%s%N >> "$STAMPS"; exit 1`)
	cmd.Env = append(os.Environ(), "STAMPS="+stamps)
	c := addChild(t, s, ChildSpec{
		Command:        cmd,
		Restart:        RestartOnFailure,
		MinUptime:      5 * time.Second,
		BackoffInitial: 100 * time.Millisecond,
		BackoffMax:     2 * time.Second,
	})
	var starts []time.Time
	harness.Eventually(t, 20*time.Second, func() error {
		var err error
		starts, err = startTimes(stamps)
		if err == nil && len(starts) < 5 {
			err = fmt.Errorf("%d starts so far", len(starts))
		}
		return err
	})
	_ = c.Stop(context.Background())
	delay := regexp.MustCompile(`child exited; restarting: .*delay=(\S+)`)
	var delays []string
	for _, line := range logs.lines("child exited; restarting") {
		if m := delay.FindStringSubmatch(line); m != nil {
			delays = append(delays, m[1])
		}
	}
	if want := []string{"100ms", "200ms", "400ms", "800ms"}; len(delays) < 4 || strings.Join(delays[:4], " ") != strings.Join(want, " ") {
		t.Errorf("restart delays %q, want %q first", delays, want)
	}
	// A start can lag its restart decision but never precede its delay.
	for i := 1; i < 5; i++ {
		if gap, want := starts[i].Sub(starts[i-1]), 100*time.Millisecond<<(i-1); gap < want {
			t.Errorf("gap before start %d = %s, want at least the %s backoff", i+1, gap, want)
		}
	}
	if got := c.Restarts(); got < 4 {
		t.Errorf("Restarts() = %d, want at least 4", got)
	}
}

func TestCrashLoopGivesUp(t *testing.T) {
	s, logs := startSupervisor(t)
	c := addChild(t, s, ChildSpec{
		Command:        shell("crashy", "exit 2"),
		Restart:        RestartAlways,
		MaxRestarts:    3,
		MinUptime:      5 * time.Second,
		BackoffInitial: 20 * time.Millisecond,
	})
	select {
	case got := <-s.Finished():
		if got != c {
			t.Fatalf("Finished delivered %s, want crashy", got.Name())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("crash-looping child not given up within 10s")
	}
	<-c.Done()
	st, err := c.Result()
	var ee *ExitError
	if !errors.Is(err, ErrCrashLoop) || !errors.As(err, &ee) || st.Code() != 2 || ee.Restarts != 3 {
		t.Errorf("Result() = %s, %v; want exit status 2 and an *ExitError wrapping ErrCrashLoop after 3 restarts", st, err)
	}
	if got := ExitCode(err); got != 2 {
		t.Errorf("ExitCode = %d, want the child's 2", got)
	}
	if c.Restarts() != 3 || c.Running() {
		t.Errorf("Restarts() = %d, Running() = %v; want 3, false", c.Restarts(), c.Running())
	}
	lines := logs.lines("child is crash looping; giving up")
	want := regexp.MustCompile(`\[ERROR\] test: child is crash looping; giving up: child=crashy restarts=3 status="exit status 2"`)
	if len(lines) != 1 || !want.MatchString(lines[0]) {
		t.Errorf("give-up log lines = %q, want one matching %s", lines, want)
	}
}

// TestLongRunsAreNotACrashLoop: runs longer than MinUptime reset the count.
func TestLongRunsAreNotACrashLoop(t *testing.T) {
	s, _ := startSupervisor(t)
	c := addChild(t, s, ChildSpec{
		Command:        shell("slowfail", "sleep 0.3; exit 1"),
		Restart:        RestartOnFailure,
		MaxRestarts:    1,
		MinUptime:      200 * time.Millisecond,
		BackoffInitial: 10 * time.Millisecond,
	})
	harness.Eventually(t, 10*time.Second, func() error {
		if n := c.Restarts(); n < 3 {
			return fmt.Errorf("%d restarts so far", n)
		}
		return nil
	})
	select {
	case <-c.Done():
		_, err := c.Result()
		t.Fatalf("child gave up after long runs: %v", err)
	default:
	}
}

// TestStopAllOnSIGTERM: SIGTERM to the process arrives as RequestStop;
// StopAll then stops the children in reverse order of Add, SIGKILLing the
// one that ignores SIGTERM after its grace.
func TestStopAllOnSIGTERM(t *testing.T) {
	s, logs := startSupervisor(t)
	order := filepath.Join(t.TempDir(), "order")
	polite := func(name string) ChildSpec {
		cmd := shell(name, `trap 'echo "$NAME" >> "$ORDER"; kill $!; exit 0' TERM; echo up; sleep 1000 & wait`)
		cmd.Env = append(os.Environ(), "NAME="+name, "ORDER="+order)
		cmd.StopGrace = 5 * time.Second
		return ChildSpec{Command: cmd, Restart: RestartAlways}
	}
	stubborn := ChildSpec{Command: shell("stubborn", `trap "" TERM; echo up; exec sleep 1000`), Restart: RestartAlways}
	stubborn.StopGrace = 500 * time.Millisecond
	var kids []*Child
	for _, spec := range []ChildSpec{polite("consul"), stubborn, polite("redis"), polite("sentinel")} {
		kids = append(kids, addChild(t, s, spec))
	}
	harness.Eventually(t, 5*time.Second, func() error {
		if n := len(logs.lines(": up")); n < 4 {
			return fmt.Errorf("%d of 4 children ready", n)
		}
		return nil
	})
	if err := unix.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatalf("kill -TERM self: %v", err)
	}
	select {
	case r := <-s.Requests():
		if r != RequestStop {
			t.Fatalf("request %s, want stop", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no request after SIGTERM")
	}
	start := time.Now()
	if err := s.StopAll(context.Background()); err != nil {
		t.Fatalf("StopAll: %v", err)
	}
	if took := time.Since(start); took < 500*time.Millisecond || took > 4*time.Second {
		t.Errorf("StopAll took %s, want the stubborn child's 500ms grace and little more", took)
	}
	if b, err := os.ReadFile(order); err != nil || string(b) != "sentinel\nredis\nconsul\n" {
		t.Errorf("children got SIGTERM in order %q (%v), want sentinel, redis, consul", b, err)
	}
	var stopped []string
	for _, line := range logs.lines("child stopped") {
		stopped = append(stopped, regexp.MustCompile(`child=(\S+)`).FindStringSubmatch(line)[1])
	}
	if strings.Join(stopped, ",") != "sentinel,redis,stubborn,consul" {
		t.Errorf("stop order %v, want sentinel, redis, stubborn, consul", stopped)
	}
	for _, c := range kids {
		st, err := c.Result()
		want := 0
		if c.Name() == "stubborn" {
			want = 137
		}
		if st.Code() != want || err != nil || c.Restarts() != 0 {
			t.Errorf("%s: Result() = %s, %v after %d restarts; want code %d, nil, 0", c.Name(), st, err, c.Restarts(), want)
		}
	}
}

func TestSignalRequests(t *testing.T) {
	s, _ := startSupervisor(t)
	tests := []struct {
		sig  syscall.Signal
		want Request
	}{
		{syscall.SIGINT, RequestStop},
		{syscall.SIGHUP, RequestReload},
		{syscall.SIGUSR1, RequestStatus},
		{syscall.SIGUSR2, RequestBackup},
	}
	for _, tt := range tests {
		t.Run(tt.sig.String(), func(t *testing.T) {
			if err := unix.Kill(os.Getpid(), tt.sig); err != nil {
				t.Fatalf("kill self: %v", err)
			}
			select {
			case r := <-s.Requests():
				if r != tt.want {
					t.Errorf("request %s, want %s", r, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no request after %s", tt.sig)
			}
		})
	}
}

func TestRestartNeverReportsTheExit(t *testing.T) {
	s, _ := startSupervisor(t)
	tests := []struct {
		name   string
		script string
		code   int
	}{
		{"clean", "exit 0", 0},
		{"failed", "exit 5", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := addChild(t, s, ChildSpec{Command: shell(tt.name, tt.script)})
			select {
			case got := <-s.Finished():
				if got != c {
					t.Fatalf("Finished delivered %s, want %s", got.Name(), tt.name)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("exit not reported on Finished")
			}
			<-c.Done()
			st, err := c.Result()
			if st.Code() != tt.code || ExitCode(err) != tt.code || c.Restarts() != 0 {
				t.Errorf("Result() = %s, %v after %d restarts; want code %d, no restart", st, err, c.Restarts(), tt.code)
			}
			if err := c.Stop(context.Background()); err != nil {
				t.Errorf("Stop after the end: %v", err)
			}
		})
	}
}

func TestChildSignalAndConcurrentStop(t *testing.T) {
	s, logs := startSupervisor(t)
	c := addChild(t, s, ChildSpec{
		Command: shell("listener", `trap 'echo got-usr1' USR1; trap 'kill $pid; exit 0' TERM; sleep 1000 & pid=$!; echo up; while :; do wait $pid; done`),
		Restart: RestartAlways,
	})
	harness.Eventually(t, 5*time.Second, func() error {
		if len(logs.lines("listener: up")) == 0 {
			return errors.New("listener not up")
		}
		return nil
	})
	pid := c.Pid()
	if pid == 0 || !c.Running() || len(s.Children()) != 1 {
		t.Fatalf("Pid() = %d, Running() = %v, %d children; want a running child", pid, c.Running(), len(s.Children()))
	}
	if err := c.Signal(syscall.SIGUSR1); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	harness.Eventually(t, 5*time.Second, func() error {
		if len(logs.lines("listener: got-usr1")) == 0 {
			return errors.New("SIGUSR1 not logged by the child")
		}
		return nil
	})
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() { errs <- c.Stop(context.Background()) }()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Errorf("Stop: %v", err)
		}
	}
	if n := len(logs.lines("stopping child")); n != 1 {
		t.Errorf("%d stop signals sent, want 1", n)
	}
	if err := c.Signal(syscall.SIGUSR1); !errors.Is(err, ErrNotRunning) || c.Pid() != 0 {
		t.Errorf("after Stop: Signal = %v, Pid = %d; want ErrNotRunning, 0", err, c.Pid())
	}
}
