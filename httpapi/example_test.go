package httpapi_test

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/httpapi"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// Wiring a node's metrics and listener. The Metrics go to the lifecycle
// (NodeOptions.Observe = m.ObserveStatus) and the backup scheduler; the
// Collector reads the children and redis at scrape time.
func Example() {
	var (
		ctx      = context.Background()
		log      = hclog.Default()
		sup      *supervisor.Supervisor // started by run
		node     *lifecycle.Node        // NodeOptions{Observe: m.ObserveStatus, ...}
		password = "from REDIS_PASSWORD"
		self     = "10.0.0.2:6379" // node.Self()
	)
	redis := redisnode.Dial("127.0.0.1:6379", password)
	sent := sentinel.Dial("127.0.0.1:26379", password)

	reg := metrics.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		panic(err)
	}
	m.BackupTTL(24 * time.Hour)
	reg.MustRegister(metrics.NewCollector(metrics.CollectorOptions{
		Log: log.Named("metrics"), Children: metrics.SupervisorChildren(sup),
		Redis: redis, MasterInfo: metrics.DialMasterInfo(password), Self: self,
	}))

	srv, err := httpapi.New(httpapi.Options{
		Addr: ":8008", Log: log.Named("http"),
		Status:  node.Status,
		Health:  httpapi.NodeHealth(redis, sent),
		Role:    httpapi.NodeRole(node.Status, redis, metrics.DialMasterInfo(password)),
		Metrics: metrics.Handler(reg),
	})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(ctx); err != nil {
		panic(err) // "listen on HTTP_ADDR :8008: ... address already in use"
	}
	defer srv.Shutdown(context.Background())
}
