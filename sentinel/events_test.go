package sentinel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// next returns the first event of type typ, failing the test after d.
func next(t *testing.T, events <-chan Event, typ string, d time.Duration) Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("event channel closed while waiting for %s", typ)
			}
			if e.Type == typ {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within %s", typ, d)
		}
	}
}

func TestSubscribeSeesRealFailover(t *testing.T) {
	m, r := pair(t)
	s := startSentinel(t, m.Addr, 0)
	c := dial(t, s.Addr)
	waitReplicaKnown(t, c, r.Addr)
	ctx := ctxT(t, 30*time.Second)
	events, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	switches, err := c.SubscribeSwitchMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Failover(ctx, "mymaster"); err != nil {
		t.Fatal(err)
	}
	want := SwitchMaster{Name: "mymaster", OldAddr: m.Addr, NewAddr: r.Addr}
	if e := next(t, events, "+switch-master", 20*time.Second); e.SwitchMaster == nil || *e.SwitchMaster != want {
		t.Fatalf("+switch-master event %+v, want %+v", e.SwitchMaster, want)
	}
	select {
	case sm := <-switches:
		if sm != want {
			t.Fatalf("SubscribeSwitchMaster got %+v, want %+v", sm, want)
		}
	case <-ctx.Done():
		t.Fatal("SubscribeSwitchMaster delivered nothing")
	}
	if got, err := c.GetMasterAddr(ctx, "mymaster"); err != nil || got != r.Addr {
		t.Fatalf("after failover GetMasterAddr = %q, %v; want %s", got, err, r.Addr)
	}
}

func TestSubscribeReconnects(t *testing.T) {
	m := harness.StartRedis(t, harness.RedisOptions{Password: password})
	port := harness.FreePort(t)
	s := startSentinel(t, m.Addr, port)
	c := dial(t, s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	s.Kill()
	startSentinel(t, m.Addr, port)
	t.Logf("sentinel restarted in %s", time.Since(t0))
	e := next(t, events, EventReconnected, 15*time.Second)
	t.Logf("reconnected after %s", time.Since(t0))
	if e.Payload != s.Addr {
		t.Fatalf("reconnected event %+v", e)
	}
	// Events flow again on the new connection.
	if _, err := c.Reset(ctx, "mymaster"); err != nil {
		t.Fatal(err)
	}
	if e := next(t, events, "+reset-master", 10*time.Second); e.MasterName != "mymaster" || e.Addr != m.Addr {
		t.Fatalf("+reset-master event %+v", e)
	}
	cancel()
	harness.Eventually(t, 5*time.Second, func() error {
		if _, ok := <-events; ok {
			return errors.New("channel still open after ctx ended")
		}
		return nil
	})
}

func TestAskMajorityRealSentinels(t *testing.T) {
	m := harness.StartRedis(t, harness.RedisOptions{Password: password})
	other := harness.StartRedis(t, harness.RedisOptions{Password: password})
	var addrs []string
	for i := 0; i < 3; i++ {
		addrs = append(addrs, startSentinel(t, m.Addr, 0).Addr)
	}
	dissent := startSentinel(t, other.Addr, 0).Addr
	dead := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	ctx := ctxT(t, 20*time.Second)
	tests := []struct {
		name   string
		addrs  []string
		master string
		agreed int
	}{
		{"three agree", addrs, m.Addr, 3},
		{"three of five", append(addrs[:3:3], dissent, dead), m.Addr, 3},
		{"two of four is no majority", []string{addrs[0], addrs[1], dissent, dead}, "", 0},
		{"none", nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := AskMajority(ctx, tt.addrs, "mymaster", password)
			if got != tt.master || n != tt.agreed {
				t.Fatalf("AskMajority = %q, %d, %v; want %q, %d", got, n, err, tt.master, tt.agreed)
			}
			var nm *NoMajorityError
			if tt.master == "" && (!errors.Is(err, ErrNoMajority) || !errors.As(err, &nm) || len(nm.Answers) != len(tt.addrs)) {
				t.Fatalf("err = %v, want a NoMajorityError with %d answers", err, len(tt.addrs))
			}
			if tt.master != "" && err != nil {
				t.Fatal(err)
			}
			t.Log(err)
		})
	}
}

// TestAskReportsFailoverAlarm: a master that a sentinel has flagged o_down
// (quorum 1) is reported by View.Alarms while the sentinel still names it,
// and the alarm clears when the master answers again.
func TestAskReportsFailoverAlarm(t *testing.T) {
	m := harness.StartRedis(t, harness.RedisOptions{Password: password})
	s := startSentinel(t, m.Addr, 0)
	ctx := ctxT(t, 30*time.Second)
	v, err := Ask(ctx, []string{s.Addr}, "mymaster", password)
	if err != nil || v.Master != m.Addr {
		t.Fatalf("Ask = %+v, %v; want master %s", v, err, m.Addr)
	}
	if a := v.Alarms(m.Addr); len(a) != 0 {
		t.Fatalf("alarms for a healthy master: %v", a)
	}
	if err := m.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			m.Signal(syscall.SIGCONT)
		}
	}()
	harness.Eventually(t, 15*time.Second, func() error {
		v, err := Ask(ctx, []string{s.Addr}, "mymaster", password)
		if err != nil {
			return err
		}
		if a := v.Alarms(m.Addr); len(a) == 0 || !strings.Contains(a[0], "o_down") {
			return fmt.Errorf("no o_down alarm yet: %+v", v.Answers)
		}
		if a := v.Alarms("127.0.0.1:1"); len(a) != 0 {
			return fmt.Errorf("alarm reported for a master the sentinel does not name: %v", a)
		}
		return nil
	})
	if err := m.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	harness.Eventually(t, 15*time.Second, func() error {
		v, err := Ask(ctx, []string{s.Addr}, "mymaster", password)
		if err != nil {
			return err
		}
		if a := v.Alarms(m.Addr); len(a) != 0 {
			return fmt.Errorf("alarm still up: %v", a)
		}
		return nil
	})
}

// TestAlarmsNameTheMasterBeingFailedOver: at its reconfiguration stage the
// failover's leader names the promoted replica while its entry, flagged
// failover_in_progress, keeps the old master's address. The old master is
// alarmed; the promoted one is not (it would stay fenced until every
// replica was re-pointed).
func TestAlarmsNameTheMasterBeingFailedOver(t *testing.T) {
	const old, promoted = "10.0.0.1:6379", "10.0.0.2:6379"
	v := View{Master: old, Agreed: 2, Answers: []Answer{
		{Sentinel: "s1", Master: promoted, Entry: old, Flags: []string{"master", "failover_in_progress"}},
		{Sentinel: "s2", Master: old, Entry: old, Flags: []string{"master", "s_down", "o_down"}},
		{Sentinel: "s3", Master: old, Entry: old, Flags: []string{"master"}},
	}}
	if got := v.Alarms(old); len(got) != 2 || got[0] != "s1: failover_in_progress" || got[1] != "s2: o_down" {
		t.Errorf("Alarms(old master) = %q, want s1 failover_in_progress and s2 o_down", got)
	}
	if got := v.Alarms(promoted); len(got) != 0 {
		t.Errorf("Alarms(promoted replica) = %q, want none", got)
	}
}
