// Package metrics holds redis-autopilot's Prometheus collectors.
//
// Metrics keeps the values that events set (a tick's status, a backup, a
// Sentinel event, a Consul error, a lock); Collector reads the supervisor's
// children and the local redis's INFO when Prometheus scrapes. Every name
// starts with redis_autopilot_ and is part of the user-facing contract:
// README and examples/prometheus/alerts.yml refer to them.
//
// Timestamps and backup figures are exported only once known: a node that
// never took a backup has no backup_last_success_timestamp_seconds series,
// rather than a 0 that reads as "1970".
package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "redis_autopilot"

// Label values of role.
const (
	RoleMaster  = "master"
	RoleReplica = "replica"
	RoleNone    = "none"
)

// Label values of backup_last_outcome and backup_attempts_total.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// ErrRegister is wrapped by New's error when a collector cannot be
// registered (a name already taken in the registry).
var ErrRegister = errors.New("register metrics")

// Metrics are the collectors updated by events. Every method is safe for
// concurrent use, and a nil *Metrics ignores every call, so a package can
// take one without caring whether metrics are on.
type Metrics struct {
	role           *prometheus.GaugeVec
	master         *infoGauge
	registryInSync prometheus.Gauge
	checkPassing   prometheus.Gauge
	lastDecision   prometheus.Gauge
	decisionChange prometheus.Gauge
	reconcileErrs  prometheus.Counter

	sentinelMaster   *infoGauge
	sentinelMajority prometheus.Gauge
	sentinelEvents   *prometheus.CounterVec

	consulErrors *prometheus.CounterVec
	lockHolds    *prometheus.CounterVec
	lockHeld     *prometheus.GaugeVec
	fenced       prometheus.Gauge
	forgets      *prometheus.CounterVec
	repoints     *prometheus.CounterVec

	backupAttempts    *prometheus.CounterVec
	backupLastAttempt *prometheus.GaugeVec // no labels: absent until set
	backupLastOutcome *prometheus.GaugeVec
	backupLastSuccess *prometheus.GaugeVec
	backupDuration    *prometheus.GaugeVec
	backupSize        *prometheus.GaugeVec
	backupThroughput  *prometheus.GaugeVec
	clusterBackup     *prometheus.GaugeVec
	backupTTL         *prometheus.GaugeVec
	restoreDuration   *prometheus.GaugeVec

	pitr pitrMetrics

	mu        sync.Mutex
	clusterAt float64 // the cluster backup time recorded, Unix seconds
}

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
}

func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
}

// New creates the collectors and registers them with reg (a registry from
// NewRegistry, or any Registerer).
func New(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: no Registerer", ErrRegister)
	}
	m := &Metrics{
		role:           gaugeVec("role", "1 for the role this node's redis reports (master, replica, none when redis does not answer), 0 for the others.", "role"),
		master:         &infoGauge{vec: gaugeVec("master_info", "1, labelled with the address of the master this node is or follows.", "addr")},
		registryInSync: gauge("registry_in_sync", "1 when the last reconcile tick applied its decision and the registered service matches the role; 0 otherwise."),
		checkPassing:   gauge("check_passing", "1 when the last tick passed this node's redis check in Consul."),
		lastDecision:   gauge("last_decision_timestamp_seconds", "Unix time of the last reconcile decision (every tick)."),
		decisionChange: gauge("decision_changed_timestamp_seconds", "Unix time the decision's reason last changed."),
		reconcileErrs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "reconcile_errors_total",
			Help: "Reconcile ticks that failed to observe or to apply their decision."}),

		sentinelMaster:   &infoGauge{vec: gaugeVec("sentinel_master_info", "1, labelled with the master a majority of the sentinels name.", "addr")},
		sentinelMajority: gauge("sentinel_majority", "1 when a majority of the registered sentinels agree on a master, 0 when none does."),
		sentinelEvents:   counterVec("sentinel_events_total", "Events received from the local sentinel, by type (+switch-master, +sdown, ...).", "event"),

		consulErrors: counterVec("consul_request_errors_total", "Consul requests that failed, by operation.", "op"),
		lockHolds:    counterVec("lock_holds_total", "Times this node acquired a Consul lock, by lock.", "lock"),
		lockHeld:     gaugeVec("lock_held", "1 while this node holds the Consul lock.", "lock"),
		forgets:      counterVec("forget_actions_total", "Departed replicas and sentinels forgotten by this node: sentinel resets and dead agents' registrations removed, by action and outcome (done, failed).", "action", "outcome"),
		repoints:     counterVec("repoints_total", "Times this node made its redis, a master the sentinels had replaced or a replica of another node, that none of them knew, a replica of the master they name, by outcome (done, failed).", "outcome"),
		fenced:       gauge("writes_fenced", "1 while this node's redis refuses writes because the sentinels are failing it over, name another master, or it is handing over."),

		backupAttempts:    counterVec("backup_attempts_total", "Backups this node attempted, by outcome.", "outcome"),
		backupLastAttempt: gaugeVec("backup_last_attempt_timestamp_seconds", "Unix time the last backup attempt on this node ended."),
		backupLastOutcome: gaugeVec("backup_last_outcome", "1 for the outcome (success, failure) of this node's last backup attempt, 0 for the other.", "outcome"),
		backupLastSuccess: gaugeVec("backup_last_success_timestamp_seconds", "Unix time the last successful backup on this node ended."),
		backupDuration:    gaugeVec("backup_duration_seconds", "Duration of the last successful backup on this node."),
		backupSize:        gaugeVec("backup_size_bytes", "Size of the last successful backup on this node."),
		backupThroughput:  gaugeVec("backup_throughput_bytes_per_second", "Size over duration of the last successful backup on this node."),
		clusterBackup:     gaugeVec("backup_cluster_last_success_timestamp_seconds", "Unix time of the newest good backup of the cluster (any node), as this node last read it."),
		backupTTL:         gaugeVec("backup_ttl_seconds", "BACKUP_TTL: the cluster takes one backup per TTL."),
		restoreDuration:   gaugeVec("restore_duration_seconds", "Duration of the last restore on this node."),
		pitr:              newPITRMetrics(),
	}
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRegister, err)
		}
	}
	return m, nil
}

func (m *Metrics) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{
		m.role, m.master.vec, m.registryInSync, m.checkPassing, m.lastDecision, m.decisionChange, m.reconcileErrs,
		m.sentinelMaster.vec, m.sentinelMajority, m.sentinelEvents,
		m.consulErrors, m.lockHolds, m.lockHeld, m.fenced, m.forgets, m.repoints,
		m.backupAttempts, m.backupLastAttempt, m.backupLastOutcome, m.backupLastSuccess,
		m.backupDuration, m.backupSize, m.backupThroughput, m.clusterBackup, m.backupTTL, m.restoreDuration,
	}, m.pitr.collectors()...)
}

// NewRegistry returns a private registry holding the Go runtime and process
// collectors (go_*, process_*), for New and Handler. The default global
// registry is not used, so nothing registered by a library leaks in.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves g in the Prometheus exposition format. A collector that
// fails does not hide the others: what could be gathered is served.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
