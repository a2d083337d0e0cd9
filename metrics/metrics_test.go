package metrics

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/autopilotpattern/redis-autopilot/lifecycle"
)

// newTest returns Metrics on a fresh private registry, and a function
// scraping that registry through Handler.
func newTest(t *testing.T, extra ...prometheus.Collector) (*Metrics, func() Samples) {
	t.Helper()
	reg := NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	reg.MustRegister(extra...)
	srv := httptest.NewServer(Handler(reg))
	t.Cleanup(srv.Close)
	return m, func() Samples {
		t.Helper()
		s, err := Scrape(t.Context(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// want asserts the samples: key -> value, or absent when value is nil.
func want(t *testing.T, s Samples, w map[string]*float64) {
	t.Helper()
	for k, v := range w {
		got, ok := s[k]
		switch {
		case v == nil && ok:
			t.Errorf("%s = %v, want absent", k, got)
		case v != nil && !ok:
			t.Errorf("%s absent, want %v", k, *v)
		case v != nil && got != *v:
			t.Errorf("%s = %v, want %v", k, got, *v)
		}
	}
}

func f(v float64) *float64 { return &v }

const p = Namespace + "_"

func TestObserveStatus(t *testing.T) {
	at := time.Unix(1700000000, 0)
	since := time.Unix(1699999000, 0)
	cases := []struct {
		name string
		st   lifecycle.Status
		want map[string]*float64
	}{
		{"master in sync", lifecycle.Status{Role: lifecycle.RoleMaster, Master: "10.0.0.1:6379", Registered: "redis",
			Passing: true, SentinelMaster: "10.0.0.1:6379", DecidedAt: at, ReasonSince: since},
			map[string]*float64{
				Key(p+"role", "role", "master"): f(1), Key(p+"role", "role", "replica"): f(0), Key(p+"role", "role", "none"): f(0),
				Key(p+"master_info", "addr", "10.0.0.1:6379"): f(1), Key(p+"sentinel_master_info", "addr", "10.0.0.1:6379"): f(1),
				p + "sentinel_majority": f(1), p + "registry_in_sync": f(1), p + "check_passing": f(1),
				p + "last_decision_timestamp_seconds": f(1700000000), p + "decision_changed_timestamp_seconds": f(1699999000),
				p + "reconcile_errors_total": f(0),
			}},
		{"master the sentinels do not name, held back as replica", lifecycle.Status{Role: lifecycle.RoleMaster,
			Master: "10.0.0.2:6379", Registered: "redis-replica", SentinelMaster: "10.0.0.2:6379", DecidedAt: at},
			map[string]*float64{
				Key(p+"role", "role", "master"): f(1), p + "registry_in_sync": f(0), p + "check_passing": f(0),
				Key(p+"master_info", "addr", "10.0.0.2:6379"): f(1),
			}},
		{"replica, no sentinel majority, tick failed", lifecycle.Status{Role: lifecycle.RoleReplica, Master: "10.0.0.1:6379",
			Registered: "redis-replica", Passing: false, SentinelError: "no majority", TickError: "consul: 500", DecidedAt: at},
			map[string]*float64{
				Key(p+"role", "role", "replica"): f(1), Key(p+"role", "role", "master"): f(0),
				p + "sentinel_majority": f(0), Key(p+"sentinel_master_info", "addr", "10.0.0.1:6379"): nil,
				p + "registry_in_sync": f(0), p + "reconcile_errors_total": f(1),
			}},
		{"redis down, failing check applied", lifecycle.Status{Role: lifecycle.RoleNone, Registered: "redis-replica", DecidedAt: at},
			map[string]*float64{
				Key(p+"role", "role", "none"): f(1), Key(p+"role", "role", "master"): f(0), Key(p+"role", "role", "replica"): f(0),
				p + "registry_in_sync": f(1), p + "check_passing": f(0),
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, scrape := newTest(t)
			m.ObserveStatus(c.st)
			want(t, scrape(), c.want)
		})
	}
}

func TestInfoGaugeFollowsChanges(t *testing.T) {
	m, scrape := newTest(t)
	for _, addr := range []string{"10.0.0.1:6379", "10.0.0.2:6379"} {
		m.ObserveStatus(lifecycle.Status{Role: lifecycle.RoleReplica, Master: addr, SentinelMaster: addr})
	}
	want(t, scrape(), map[string]*float64{
		Key(p+"master_info", "addr", "10.0.0.1:6379"): nil, Key(p+"master_info", "addr", "10.0.0.2:6379"): f(1),
		Key(p+"sentinel_master_info", "addr", "10.0.0.1:6379"): nil, Key(p+"sentinel_master_info", "addr", "10.0.0.2:6379"): f(1),
	})
	m.ObserveStatus(lifecycle.Status{Role: lifecycle.RoleNone})
	s := scrape()
	for k := range s {
		if strings.HasPrefix(k, p+"master_info{") || strings.HasPrefix(k, p+"sentinel_master_info{") {
			t.Errorf("%s still exported after the master became unknown", k)
		}
	}
}

func TestBackupAttempt(t *testing.T) {
	m, scrape := newTest(t)
	absent := map[string]*float64{
		p + "backup_last_success_timestamp_seconds": nil, p + "backup_last_attempt_timestamp_seconds": nil,
		p + "backup_duration_seconds": nil, p + "backup_size_bytes": nil, p + "backup_throughput_bytes_per_second": nil,
		p + "backup_cluster_last_success_timestamp_seconds": nil, p + "restore_duration_seconds": nil,
		Key(p+"backup_last_outcome", "outcome", "success"): nil,
	}
	want(t, scrape(), absent)

	start := time.Unix(1700000000, 0)
	m.BackupAttempt(start, start.Add(4*time.Second), 8<<20, nil)
	want(t, scrape(), map[string]*float64{
		p + "backup_last_success_timestamp_seconds": f(1700000004), p + "backup_last_attempt_timestamp_seconds": f(1700000004),
		p + "backup_duration_seconds": f(4), p + "backup_size_bytes": f(8 << 20), p + "backup_throughput_bytes_per_second": f(2 << 20),
		p + "backup_cluster_last_success_timestamp_seconds": f(1700000004),
		Key(p+"backup_last_outcome", "outcome", "success"):  f(1), Key(p+"backup_last_outcome", "outcome", "failure"): f(0),
		Key(p+"backup_attempts_total", "outcome", "success"): f(1),
	})

	later := start.Add(time.Hour)
	m.BackupAttempt(later, later.Add(time.Second), 0, errors.New("upload: 503"))
	m.RestoreDone(1500 * time.Millisecond)
	want(t, scrape(), map[string]*float64{
		p + "backup_last_success_timestamp_seconds": f(1700000004), p + "backup_last_attempt_timestamp_seconds": f(1700003601),
		p + "backup_duration_seconds": f(4), p + "backup_size_bytes": f(8 << 20),
		Key(p+"backup_last_outcome", "outcome", "success"): f(0), Key(p+"backup_last_outcome", "outcome", "failure"): f(1),
		Key(p+"backup_attempts_total", "outcome", "success"): f(1), Key(p+"backup_attempts_total", "outcome", "failure"): f(1),
		p + "restore_duration_seconds": f(1.5),
	})
}

func TestClusterBackupKeepsTheNewest(t *testing.T) {
	m, scrape := newTest(t)
	m.BackupTTL(24 * time.Hour)
	m.ClusterBackup(time.Unix(2000, 0))
	m.ClusterBackup(time.Unix(1000, 0)) // an older read of the key
	m.ClusterBackup(time.Time{})        // unknown
	want(t, scrape(), map[string]*float64{
		p + "backup_cluster_last_success_timestamp_seconds": f(2000), p + "backup_ttl_seconds": f(86400),
		p + "backup_last_success_timestamp_seconds": nil,
	})
}

func TestEvents(t *testing.T) {
	m, scrape := newTest(t)
	m.SentinelEvent("+switch-master")
	m.SentinelEvent("+switch-master")
	m.SentinelEvent("+sdown")
	m.ConsulError("register")
	m.LockAcquired("master")
	m.LockReleased("master")
	m.LockAcquired("master")
	m.LockAcquired("backup")
	m.LockReleased("backup")
	m.Fenced(true)
	want(t, scrape(), map[string]*float64{
		Key(p + "writes_fenced"):                                  f(1),
		Key(p+"sentinel_events_total", "event", "+switch-master"): f(2), Key(p+"sentinel_events_total", "event", "+sdown"): f(1),
		Key(p+"consul_request_errors_total", "op", "register"): f(1),
		Key(p+"lock_holds_total", "lock", "master"):            f(2), Key(p+"lock_held", "lock", "master"): f(1),
		Key(p+"lock_holds_total", "lock", "backup"): f(1), Key(p+"lock_held", "lock", "backup"): f(0),
	})
}

func TestNilMetricsIgnoresCalls(t *testing.T) {
	var m *Metrics
	m.ObserveStatus(lifecycle.Status{Role: lifecycle.RoleMaster})
	m.BackupAttempt(time.Now(), time.Now(), 1, nil)
	m.ClusterBackup(time.Now())
	m.BackupTTL(time.Hour)
	m.RestoreDone(time.Second)
	m.SentinelEvent("+sdown")
	m.ConsulError("pass")
	m.LockAcquired("master")
	m.LockReleased("master")
	if m != nil {
		t.Fatal("unreachable")
	}
}

func TestNewRegisterErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg); !errors.Is(err, ErrRegister) {
		t.Errorf("second New on one registry: %v, want ErrRegister", err)
	}
	if _, err := New(nil); !errors.Is(err, ErrRegister) {
		t.Errorf("New(nil): %v, want ErrRegister", err)
	}
}

// TestLint runs promlint over every metric, each with a value.
func TestLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(NewCollector(CollectorOptions{Children: fakeChildren(fakeChild{"redis", 1, true})}))
	populate(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) < 25 {
		t.Fatalf("gathered %d metric families, want every one of ours", len(mfs))
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("%s: %s", pr.Metric, pr.Text)
	}
}

// populate gives every event metric a value.
func populate(m *Metrics) {
	now := time.Now()
	m.ObserveStatus(lifecycle.Status{Role: lifecycle.RoleMaster, Master: "a:1", SentinelMaster: "a:1", DecidedAt: now, ReasonSince: now})
	m.BackupAttempt(now.Add(-time.Second), now, 10, nil)
	m.BackupTTL(time.Hour)
	m.RestoreDone(time.Second)
	m.SentinelEvent("+sdown")
	m.ConsulError("pass")
	m.LockAcquired("master")
	m.ForgetAction("sentinel_reset", "done")
	m.Repointed("done")
	m.PITRShipping(true)
	m.Shipped("c", now.Unix(), 10)
	m.ChainEnded("c", "test", true)
}
