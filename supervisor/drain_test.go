package supervisor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// crashReport writes a burst of lines larger than a pipe's buffer (as
// redis's crash report is), then a last line, then ends with code.
const crashReport = `i=0; while [ $i -lt 3000 ]; do echo "report line $i ......................................................................"; i=$((i+1)); done
echo last-line-of-the-report; exit 3`

// TestChildsLastLinesAreLoggedBeforeItsEnd checks that everything a child
// wrote is logged before its end is reported: when it exits by itself
// (Finished) and when it is stopped (Stop returns). PID 1 exits right
// after either, and the last lines are what says why.
func TestChildsLastLinesAreLoggedBeforeItsEnd(t *testing.T) {
	t.Run("exited", func(t *testing.T) {
		s, buf := startSupervisor(t)
		c := addChild(t, s, ChildSpec{Command: shell("crasher", crashReport)})
		select {
		case <-s.Finished():
		case <-time.After(20 * time.Second):
			t.Fatal("exit not reported on Finished")
		}
		<-c.Done()
		checkLastLine(t, buf, "crasher: last-line-of-the-report", "child exited; not restarting")
	})
	t.Run("stopped", func(t *testing.T) {
		s, buf := startSupervisor(t)
		script := `trap '` + crashReport + `' TERM; echo ready; sleep 1000 & wait`
		c := addChild(t, s, ChildSpec{Command: shell("stopper", script)})
		waitLog(t, buf, "stopper: ready")
		if err := c.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		checkLastLine(t, buf, "stopper: last-line-of-the-report", "child stopped")
	})
}

// checkLastLine checks, at once, that last was logged, and before end.
func checkLastLine(t *testing.T, buf *logBuffer, last, end string) {
	t.Helper()
	log := buf.String()
	i, j := strings.Index(log, last), strings.Index(log, end)
	switch {
	case i < 0:
		t.Errorf("%q was not logged by the time the end was reported", last)
	case j < i:
		t.Errorf("%q logged after %q", last, end)
	}
}

func waitLog(t *testing.T, buf *logBuffer, s string) {
	t.Helper()
	harness.Eventually(t, 20*time.Second, func() error {
		if !strings.Contains(buf.String(), s) {
			return fmt.Errorf("%q not logged yet", s)
		}
		return nil
	})
}
