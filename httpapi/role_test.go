package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/metrics"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

type infoText string

func (s infoText) Info(context.Context, ...string) (redisnode.Info, error) {
	if s == "" {
		return nil, errors.New("connection refused")
	}
	return redisnode.ParseInfo(string(s)), nil
}

const healthyInfo = "loading:0\nrdb_last_bgsave_status:ok\naof_last_write_status:ok\n"

func TestNodeRole(t *testing.T) {
	agreed := lifecycle.Status{Role: lifecycle.RoleMaster, Registered: registry.ServiceMaster, Passing: true}
	heldBack := lifecycle.Status{Role: lifecycle.RoleMaster, Registered: registry.ServiceReplica}
	masterOffset := func(context.Context, string) (redisnode.Info, error) {
		return redisnode.ParseInfo("master_repl_offset:500\n"), nil
	}
	cases := []struct {
		name    string
		info    infoText
		st      lifecycle.Status
		role    string
		healthy bool
		lag     int64
	}{
		{"agreed master", healthyInfo + "role:master\n", agreed, RoleMaster, true, 0},
		{"master the sentinels do not name", healthyInfo + "role:master\n", heldBack, RoleMaster, false, 0},
		{"master before the first tick", healthyInfo + "role:master\n", lifecycle.Status{}, RoleMaster, false, 0},
		{"loading master", "loading:1\nrole:master\n", agreed, RoleMaster, false, 0},
		{"replica", healthyInfo + "role:slave\nmaster_host:h\nmaster_port:1\nmaster_link_status:up\nslave_repl_offset:400\n",
			lifecycle.Status{}, RoleReplica, true, 100},
		{"replica, link down", healthyInfo + "role:slave\nmaster_host:h\nmaster_port:1\nmaster_link_status:down\n",
			lifecycle.Status{}, RoleReplica, false, -1},
		{"redis down", "", agreed, "", false, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			role, healthy, lag := NodeRole(func() lifecycle.Status { return c.st }, c.info, masterOffset)(t.Context())
			if role != c.role || healthy != c.healthy || lag != c.lag {
				t.Errorf("NodeRole = %q, %v, %d; want %q, %v, %d", role, healthy, lag, c.role, c.healthy, c.lag)
			}
		})
	}
}

// TestRealNodesAnswerByRole serves /master and /replica from NodeRole over
// a real master and replica, then kills the master.
func TestRealNodesAnswerByRole(t *testing.T) {
	const pw = "httpapi-test-pw"
	master := harness.StartRedis(t, harness.RedisOptions{Password: pw, Extra: []string{"repl-diskless-sync-delay 0"}})
	replica := harness.StartRedis(t, harness.RedisOptions{Password: pw, ReplicaOf: master.Addr})
	masterStatus := lifecycle.Status{Role: lifecycle.RoleMaster, Registered: registry.ServiceMaster, Passing: true}
	node := func(r *harness.Redis, st lifecycle.Status) string {
		c := redisnode.Dial(r.Addr, pw)
		t.Cleanup(func() { c.Close() })
		o := Options{
			Addr: "127.0.0.1:0", Status: func() lifecycle.Status { return st },
			Health: func(context.Context) (bool, string) { return true, "" },
			Role:   NodeRole(func() lifecycle.Status { return st }, c, metrics.DialMasterInfo(pw)), Metrics: metrics.Handler(metrics.NewRegistry()),
		}
		return "http://" + startWith(t, t.Context(), o).Addr()
	}
	m, r := node(master, masterStatus), node(replica, lifecycle.Status{Role: lifecycle.RoleReplica})
	expect := func(want map[string]int) func() error {
		return func() error {
			for url, code := range want {
				if got, body := do(t, "GET", url); got != code {
					return fmt.Errorf("GET %s = %d %s, want %d", url, got, body, code)
				}
			}
			return nil
		}
	}
	harness.Eventually(t, 10*time.Second, expect(map[string]int{
		m + "/master": 200, m + "/replica": 503, r + "/replica?lag=0": 200, r + "/replica?lag=1MB": 200, r + "/master": 503,
	}))
	master.Kill()
	harness.Eventually(t, 10*time.Second, expect(map[string]int{
		m + "/master": 503, r + "/replica": 503, r + "/replica?lag=1GB": 503,
	}))
}

// TestRealNodeHealth serves /health from NodeHealth over a real redis and
// sentinel, then kills each.
func TestRealNodeHealth(t *testing.T) {
	const pw = "httpapi-test-pw"
	r := harness.StartRedis(t, harness.RedisOptions{Password: pw})
	s := harness.StartSentinel(t, harness.SentinelOptions{MasterAddr: r.Addr, Password: pw})
	rc, sc := redisnode.Dial(r.Addr, pw), sentinel.Dial(s.Addr, pw)
	t.Cleanup(func() { rc.Close(); sc.Close() })
	f := &fake{}
	o := f.options("127.0.0.1:0")
	o.Health = NodeHealth(rc, sc)
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	expect := func(code int, reason string) func() error {
		return func() error {
			if got, body := do(t, "GET", ts.URL+"/health"); got != code || !strings.Contains(body, reason) {
				return fmt.Errorf("/health = %d %s, want %d with %q", got, body, code, reason)
			}
			return nil
		}
	}
	harness.Eventually(t, 5*time.Second, expect(200, "redis and sentinel are healthy"))
	s.Kill()
	harness.Eventually(t, 5*time.Second, expect(503, "sentinel does not answer PING"))
	r.Kill()
	harness.Eventually(t, 5*time.Second, expect(503, "redis is not healthy"))
}
