package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/hashicorp/go-hclog"
)

// testInitEnv makes the test binary run testInit instead of the tests: a
// tiny main that uses the supervisor as the product will, run as PID 1.
const testInitEnv = "SUPERVISOR_TEST_INIT"

func TestMain(m *testing.M) {
	if os.Getenv(testInitEnv) == "1" {
		os.Exit(testInit())
	}
	os.Exit(m.Run())
}

// initWorker traps SIGTERM (reporting it), double-forks 20 short-lived
// orphans, and waits.
const initWorker = `trap 'echo worker-got-term; kill $!; exit 0' TERM
for i in $(seq 20); do (sleep 0.1 &); done
sleep 1000 & wait`

// testInit starts a worker, reports "ready" on stdout once the worker's
// orphans were reaped, and on a stop request stops everything and reports
// what it saw as PID 1: "pid=1 zombies=0 orphans=N worker=STATUS".
func testInit() int {
	log := hclog.New(&hclog.LoggerOptions{Name: "init", Level: hclog.Debug, Output: os.Stderr})
	s, err := New(Options{Log: log, SweepInterval: 200 * time.Millisecond})
	if err != nil {
		log.Error("new", "error", err)
		return ExitFailure
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-s.Done() }()
	if err := s.Start(ctx); err != nil {
		log.Error("start", "error", err)
		return ExitFailure
	}
	worker, err := s.Add(ChildSpec{Command: shell("worker", initWorker), Restart: RestartOnFailure})
	if err != nil {
		log.Error("add", "error", err)
		return ExitFailure
	}
	err = harness.Wait(10*time.Second, func() error {
		if n := s.OrphansReaped(); n < 20 {
			return fmt.Errorf("%d orphans reaped", n)
		}
		return nil
	})
	if err != nil {
		log.Error("orphans", "error", err)
		return ExitFailure
	}
	fmt.Println("ready")
	for r := range s.Requests() {
		if r == RequestStop {
			break
		}
	}
	err = s.StopAll(ctx)
	zombies := harness.Wait(5*time.Second, noZombies(os.Getpid()))
	st, werr := worker.Result()
	fmt.Printf("pid=%d zombies=%v orphans=%d worker=%d\n", os.Getpid(), zombies, s.OrphansReaped(), st.Code())
	return ExitCode(errors.Join(err, werr, zombies))
}

// TestPID1 runs testInit as a real PID 1 in a new PID namespace, stops it
// with a signal, and checks it reaped every orphan, stopped its worker with
// SIGTERM and exited 0.
func TestPID1(t *testing.T) {
	unshare := harness.NeedBinary(t, "unshare")
	if out, err := exec.Command(unshare, "--pid", "--fork", "--mount-proc", "true").CombinedOutput(); err != nil {
		t.Skipf("unshare --pid --fork --mount-proc is not permitted here (needs root): %v: %s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary: %v", err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			runPID1(t, unshare, self, sig)
		})
	}
}

func runPID1(t *testing.T, unshare, self string, sig syscall.Signal) {
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", self)
	cmd.Env = append(os.Environ(), testInitEnv+"=1")
	var stderr logBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", unshare, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if line := nextLine(t, lines, &stderr); line != "ready" {
		t.Fatalf("init said %q, want ready; stderr:\n%s", line, stderr.String())
	}
	// The inner PID 1 is the child unshare forked.
	var init int
	harness.Eventually(t, 5*time.Second, func() error {
		for _, p := range processes() {
			if p.ppid == cmd.Process.Pid {
				init = p.pid
				return nil
			}
		}
		return errors.New("no child of unshare")
	})
	if err := syscall.Kill(init, sig); err != nil {
		t.Fatalf("kill -%s %d: %v", sig, init, err)
	}
	report := nextLine(t, lines, &stderr)
	err = cmd.Wait()
	t.Logf("init report: %s", report)
	checkPID1Report(t, report)
	if !strings.Contains(stderr.String(), "init.worker: worker-got-term") {
		t.Errorf("the worker did not log that it got SIGTERM; stderr:\n%s", stderr.String())
	}
	if err != nil {
		t.Errorf("init exited with %v, want 0; stderr:\n%s", err, stderr.String())
	}
}

func nextLine(t *testing.T, lines <-chan string, stderr *logBuffer) string {
	t.Helper()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("init closed stdout; stderr:\n%s", stderr.String())
		}
		return line
	case <-time.After(20 * time.Second):
		t.Fatalf("no line from init within 20s; stderr:\n%s", stderr.String())
	}
	return ""
}

var reportRE = regexp.MustCompile(`^pid=(\d+) zombies=(\S+) orphans=(\d+) worker=(\d+)$`)

func checkPID1Report(t *testing.T, report string) {
	t.Helper()
	m := reportRE.FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("init report %q does not match %s", report, reportRE)
	}
	if orphans, _ := strconv.Atoi(m[3]); m[1] != "1" || m[2] != "<nil>" || orphans < 20 || m[4] != "0" {
		t.Errorf("init report %q: want pid=1, no zombies left, at least 20 orphans reaped, worker status 0", report)
	}
}
