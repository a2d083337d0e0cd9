package metrics

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// Child is a supervised process as the collector reads it;
// *supervisor.Child is one.
type Child interface {
	Name() string
	Restarts() int
	Running() bool
}

// SupervisorChildren adapts s.Children for CollectorOptions.Children.
func SupervisorChildren(s *supervisor.Supervisor) func() []Child {
	return func() []Child {
		var out []Child
		for _, c := range s.Children() {
			out = append(out, c)
		}
		return out
	}
}

// CollectorOptions configure NewCollector. Every source is optional: a
// collector without Redis reports no replication metrics.
type CollectorOptions struct {
	Log hclog.Logger
	// Children lists the supervised processes (SupervisorChildren).
	Children func() []Child
	// Redis is the local redis-server.
	Redis InfoReader
	// MasterInfo reads a master's INFO, for a replica's own lag
	// (DialMasterInfo with the redis password).
	MasterInfo MasterInfoFunc
	// Self is this node's redis address as the master lists its replicas
	// ("ip:port"); it labels a replica's own lag. Default: "self".
	Self string
	// Timeout bounds the reads of one scrape. Default: 2s.
	Timeout time.Duration
}

// Collector reads the children and the local redis when Prometheus
// scrapes. Register it with the same registry as New's.
type Collector struct {
	o CollectorOptions

	restarts, up, redisUp, lag, link *prometheus.Desc
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

// NewCollector returns a Collector reading what o names.
func NewCollector(o CollectorOptions) *Collector {
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Self == "" {
		o.Self = "self"
	}
	return &Collector{
		o:        o,
		restarts: desc("child_restarts_total", "Times the supervisor restarted the child process.", "child"),
		up:       desc("child_up", "1 while a process of the child runs.", "child"),
		redisUp:  desc("redis_up", "1 when the local redis answered INFO within the scrape timeout."),
		lag: desc("replica_lag_bytes", "How far a replica is behind its master in bytes (master offset minus replica offset): "+
			"per replica on a master, its own on a replica (absent while unknown).", "replica"),
		link: desc("replica_link_up", "1 when the replication link is up: per replica on a master (state=online), "+
			"its own on a replica (master_link_status:up).", "replica"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.restarts, c.up, c.redisUp, c.lag, c.link} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.o.Children != nil {
		for _, child := range c.o.Children() {
			ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(child.Restarts()), child.Name())
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, boolFloat(child.Running()), child.Name())
		}
	}
	if c.o.Redis != nil {
		c.collectRedis(ch)
	}
}

func (c *Collector) collectRedis(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	defer cancel()
	r, err := ReadReplication(ctx, c.o.Redis, c.o.MasterInfo)
	ch <- prometheus.MustNewConstMetric(c.redisUp, prometheus.GaugeValue, boolFloat(err == nil))
	if err != nil {
		c.o.Log.Debug("scrape: local redis did not answer", "error", err)
		return
	}
	for _, rep := range r.Replicas {
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(rep.LagBytes), rep.Addr)
		ch <- prometheus.MustNewConstMetric(c.link, prometheus.GaugeValue, boolFloat(rep.Online), rep.Addr)
	}
	if r.Role != redisnode.RoleReplica {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.link, prometheus.GaugeValue, boolFloat(r.LinkUp), c.o.Self)
	if r.LagErr != nil {
		c.o.Log.Debug("scrape: replica lag unknown", "error", r.LagErr)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(r.LagBytes), c.o.Self)
}
