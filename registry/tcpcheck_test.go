package registry

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestTCPCheckCatchesADeadProcess: with TCPInterval set, a service whose
// port stops answering goes critical within a few intervals, long before
// its TTL would lapse.
func TestTCPCheckCatchesADeadProcess(t *testing.T) {
	c := harness.StartConsul(t)
	r := newRegistry(t, c, Options{})
	ctx := testCtx(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	s := Service{Name: "redis", Address: "127.0.0.1", Port: port, TTL: time.Hour, TCPInterval: 500 * time.Millisecond}
	if err := r.Register(ctx, s); err != nil {
		t.Fatal(err)
	}
	id := ServiceID("redis", "127.0.0.1", port)
	if err := r.Pass(ctx, id, "ok"); err != nil {
		t.Fatal(err)
	}
	status := func() string {
		in, err := instance(ctx, r, "redis", id, false)
		if err != nil {
			return err.Error()
		}
		return in.Status
	}
	harness.Eventually(t, 5*time.Second, func() error {
		if st := status(); st != api.HealthPassing {
			return fmt.Errorf("status %s, want passing while the port answers", st)
		}
		return nil
	})
	l.Close()
	start := time.Now()
	harness.Eventually(t, 10*time.Second, func() error {
		if st := status(); st != api.HealthCritical {
			return fmt.Errorf("status %s, want critical once the port is closed", st)
		}
		return nil
	})
	t.Logf("critical %s after the port closed (TTL 1h)", time.Since(start).Round(time.Millisecond))
}
