package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/autopilotpattern/redis-autopilot/lifecycle"
)

// ObserveStatus records a reconcile tick's status; give it as
// NodeOptions.Observe.
//
// registry_in_sync is 1 when the tick applied its decision (no tick error)
// and the registered service is the one for the role: `redis` for a master,
// `redis-replica` for a replica (any, when redis does not answer and its
// check is failing). It is 0 while a master that a majority of sentinels
// does not name is held back as `redis-replica`: safe, but worth an alert
// when it lasts.
func (m *Metrics) ObserveStatus(st lifecycle.Status) {
	if m == nil {
		return
	}
	role := roleLabel(st.Role)
	for _, r := range []string{RoleMaster, RoleReplica, RoleNone} {
		m.role.WithLabelValues(r).Set(boolFloat(r == role))
	}
	m.master.set(st.Master)
	m.sentinelMaster.set(st.SentinelMaster)
	m.sentinelMajority.Set(boolFloat(st.SentinelMaster != ""))
	m.registryInSync.Set(boolFloat(InSync(st)))
	m.checkPassing.Set(boolFloat(st.Passing))
	if !st.DecidedAt.IsZero() {
		m.lastDecision.Set(unix(st.DecidedAt))
	}
	if !st.ReasonSince.IsZero() {
		m.decisionChange.Set(unix(st.ReasonSince))
	}
	if st.TickError != "" {
		m.reconcileErrs.Inc()
	}
}

// InSync is registry_in_sync for st (see ObserveStatus).
func InSync(st lifecycle.Status) bool {
	if st.TickError != "" {
		return false
	}
	return st.Role == lifecycle.RoleNone || st.Registered == st.Role.Service()
}

func roleLabel(r lifecycle.Role) string {
	switch r {
	case lifecycle.RoleMaster:
		return RoleMaster
	case lifecycle.RoleReplica:
		return RoleReplica
	}
	return RoleNone
}

// BackupAttempt records a backup this node attempted from start to end:
// size bytes uploaded and verified when err is nil. Duration, size and
// throughput describe the last successful backup only.
func (m *Metrics) BackupAttempt(start, end time.Time, size int64, err error) {
	if m == nil {
		return
	}
	outcome := OutcomeSuccess
	if err != nil {
		outcome = OutcomeFailure
	}
	m.backupAttempts.WithLabelValues(outcome).Inc()
	m.backupLastAttempt.WithLabelValues().Set(unix(end))
	m.backupLastOutcome.WithLabelValues(OutcomeSuccess).Set(boolFloat(err == nil))
	m.backupLastOutcome.WithLabelValues(OutcomeFailure).Set(boolFloat(err != nil))
	if err != nil {
		return
	}
	d := end.Sub(start).Seconds()
	m.backupLastSuccess.WithLabelValues().Set(unix(end))
	m.backupDuration.WithLabelValues().Set(d)
	m.backupSize.WithLabelValues().Set(float64(size))
	if d > 0 {
		m.backupThroughput.WithLabelValues().Set(float64(size) / d)
	}
	m.ClusterBackup(end)
}

// ClusterBackup records when the newest good backup of the cluster was
// taken, by any node (what service/redis/last-backup names). The scheduler
// calls it whenever it reads the key; earlier times than the one recorded
// are ignored.
func (m *Metrics) ClusterBackup(at time.Time) {
	if m == nil || at.IsZero() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if v := unix(at); v > m.clusterAt {
		m.clusterAt = v
		m.clusterBackup.WithLabelValues().Set(v)
	}
}

// BackupTTL records BACKUP_TTL, so that alerts can say "no backup for 2×TTL"
// without repeating the setting.
func (m *Metrics) BackupTTL(ttl time.Duration) {
	if m == nil {
		return
	}
	m.backupTTL.WithLabelValues().Set(ttl.Seconds())
}

// RestoreDone records the duration of a restore on this node.
func (m *Metrics) RestoreDone(d time.Duration) {
	if m == nil {
		return
	}
	m.restoreDuration.WithLabelValues().Set(d.Seconds())
}

// SentinelEvent counts one event from the local sentinel by its type
// ("+switch-master", "+sdown", ...).
func (m *Metrics) SentinelEvent(typ string) {
	if m == nil {
		return
	}
	m.sentinelEvents.WithLabelValues(typ).Inc()
}

// ConsulError counts a failed Consul request; op names the operation
// ("register", "pass", "acquire", "kv-get", ...), a short fixed word.
func (m *Metrics) ConsulError(op string) {
	if m == nil {
		return
	}
	m.consulErrors.WithLabelValues(op).Inc()
}

// LockAcquired records that this node took the Consul lock name
// ("master", "backup").
func (m *Metrics) LockAcquired(name string) {
	if m == nil {
		return
	}
	m.lockHolds.WithLabelValues(name).Inc()
	m.lockHeld.WithLabelValues(name).Set(1)
}

// ForgetAction records one action of the departed-node cleanup
// (forget.Reset, forget.Deregister) and its outcome, "done" or "failed".
func (m *Metrics) ForgetAction(action, outcome string) {
	if m == nil {
		return
	}
	m.forgets.WithLabelValues(action, outcome).Inc()
}

// Repointed records that this node made its redis, a stale master or a
// replica of another node that no sentinel knew, a replica of the master
// the sentinels name: outcome
// "done" or "failed".
func (m *Metrics) Repointed(outcome string) {
	if m == nil {
		return
	}
	m.repoints.WithLabelValues(outcome).Inc()
}

// LockReleased records that this node released or lost the lock name.
func (m *Metrics) LockReleased(name string) {
	if m == nil {
		return
	}
	m.lockHeld.WithLabelValues(name).Set(0)
}

// infoGauge is an "info" gauge: one series, value 1, whose label is the
// current value (an address); none while the value is "".
type infoGauge struct {
	vec *prometheus.GaugeVec
	mu  sync.Mutex
	cur string
}

// set replaces the series. The old one is deleted first: a scrape in
// between sees none rather than two masters.
func (g *infoGauge) set(v string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if v == g.cur {
		return
	}
	if g.cur != "" {
		g.vec.DeleteLabelValues(g.cur)
	}
	if v != "" {
		g.vec.WithLabelValues(v).Set(1)
	}
	g.cur = v
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unix is t as fractional Unix seconds.
func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Fenced records that this node's write fence went up (true) or down.
func (m *Metrics) Fenced(on bool) {
	if m == nil {
		return
	}
	v := 0.0
	if on {
		v = 1
	}
	m.fenced.Set(v)
}
