package metrics

import "github.com/prometheus/client_golang/prometheus"

// pitrMetrics are point-in-time recovery's: what the shipping node shipped
// and how far behind it is, and the chains that ended or broke.
type pitrMetrics struct {
	shipping    prometheus.Gauge
	lastShipped *prometheus.GaugeVec // no labels: absent until known
	behind      *prometheus.GaugeVec
	ended       prometheus.Counter
	broken      prometheus.Counter
}

func newPITRMetrics() pitrMetrics {
	return pitrMetrics{
		shipping:    gauge("pitr_shipping", "1 while this node ships the AOF for point-in-time recovery (it holds the shipping lock), else 0."),
		lastShipped: gaugeVec("pitr_last_shipped_timestamp_seconds", "The newest AOF timestamp (#TS, Unix seconds) this node has stored: a restore can reach it. Only while this node ships."),
		behind:      gaugeVec("pitr_bytes_behind", "AOF bytes redis wrote that this node has not stored yet (spooled while the store fails). Only while this node ships."),
		ended: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "pitr_chains_ended_total",
			Help: "Point-in-time chains this node ended (stopped shipping, rotation, a restart of redis, a full resync, a break)."}),
		broken: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "pitr_chains_broken_total",
			Help: "Point-in-time chains this node ended because AOF bytes could not be shipped (store outage past the spool bound, a gap): the seconds between the broken chain's end and the next chain's start cannot be restored."}),
	}
}

func (p pitrMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{p.shipping, p.lastShipped, p.behind, p.ended, p.broken}
}

// Shipped records the newest #TS stored and the bytes behind (the
// shipper's ShipObserver).
func (m *Metrics) Shipped(_ string, lastTS, bytesBehind int64) {
	if m == nil {
		return
	}
	m.pitr.lastShipped.WithLabelValues().Set(float64(lastTS))
	m.pitr.behind.WithLabelValues().Set(float64(bytesBehind))
}

// ChainEnded counts a chain this node ended; broken when bytes were lost.
func (m *Metrics) ChainEnded(_, _ string, broken bool) {
	if m == nil {
		return
	}
	m.pitr.ended.Inc()
	if broken {
		m.pitr.broken.Inc()
	}
}

// PITRShipping records whether this node ships; when it stops, the
// shipping figures are removed (another node reports them).
func (m *Metrics) PITRShipping(on bool) {
	if m == nil {
		return
	}
	m.pitr.shipping.Set(boolFloat(on))
	if !on {
		m.pitr.lastShipped.Reset()
		m.pitr.behind.Reset()
	}
}
