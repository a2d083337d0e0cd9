package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
)

type fakeChild struct {
	name     string
	restarts int
	running  bool
}

func (c fakeChild) Name() string  { return c.name }
func (c fakeChild) Restarts() int { return c.restarts }
func (c fakeChild) Running() bool { return c.running }

func fakeChildren(cs ...fakeChild) func() []Child {
	return func() []Child {
		var out []Child
		for _, c := range cs {
			out = append(out, c)
		}
		return out
	}
}

// fakeInfo answers INFO with fixed text, or an error.
type fakeInfo struct {
	text string
	err  error
}

func (f fakeInfo) Info(context.Context, ...string) (redisnode.Info, error) {
	if f.err != nil {
		return nil, f.err
	}
	return redisnode.ParseInfo(f.text), nil
}

const healthy = "loading:0\nrdb_last_bgsave_status:ok\naof_last_write_status:ok\n"

func masterInfo(offset int64, replicas ...string) string {
	s := healthy + fmt.Sprintf("role:master\nmaster_repl_offset:%d\nconnected_slaves:%d\n", offset, len(replicas))
	for i, r := range replicas {
		s += fmt.Sprintf("slave%d:%s\n", i, r)
	}
	return s
}

func replicaInfo(link string, offset int64) string {
	return healthy + fmt.Sprintf("role:slave\nmaster_host:10.0.0.1\nmaster_port:6379\nmaster_link_status:%s\nslave_repl_offset:%d\n", link, offset)
}

func masterAt(offset int64, err error) MasterInfoFunc {
	return func(_ context.Context, addr string) (redisnode.Info, error) {
		if addr != "10.0.0.1:6379" {
			return nil, fmt.Errorf("asked %s, not the master", addr)
		}
		return redisnode.ParseInfo(fmt.Sprintf("role:master\nmaster_repl_offset:%d\n", offset)), err
	}
}

func TestReadReplication(t *testing.T) {
	cases := []struct {
		name    string
		local   string
		master  MasterInfoFunc
		role    string
		healthy bool
		linkUp  bool
		lag     int64
		lagErr  string
		reps    []ReplicaState
	}{
		{"master with replicas", masterInfo(1000, "ip=10.0.0.2,port=6379,state=online,offset=900,lag=0",
			"ip=10.0.0.3,port=6380,state=wait_bgsave,offset=0,lag=1"), nil, "master", true, false, 0, "",
			[]ReplicaState{{"10.0.0.2:6379", true, 100}, {"10.0.0.3:6380", false, 1000}}},
		{"replica ahead of a stale master read clamps to 0", replicaInfo("up", 1200), masterAt(1000, nil),
			"replica", true, true, 0, "", nil},
		{"replica behind", replicaInfo("up", 700), masterAt(1000, nil), "replica", true, true, 300, "", nil},
		{"replica, link down", replicaInfo("down", 700), masterAt(1000, nil), "replica", false, false, -1, "link to master 10.0.0.1:6379 is down", nil},
		{"replica, master unreachable", replicaInfo("up", 700), masterAt(0, errors.New("i/o timeout")), "replica", true, true, -1, "i/o timeout", nil},
		{"replica, no master reader", replicaInfo("up", 700), nil, "replica", true, true, -1, "not read here", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := ReadReplication(t.Context(), fakeInfo{text: c.local}, c.master)
			if err != nil {
				t.Fatal(err)
			}
			if r.Role != c.role || r.Healthy != c.healthy || r.LinkUp != c.linkUp || r.LagBytes != c.lag {
				t.Errorf("got role %q healthy %v (%s) link %v lag %d, want %q %v %v %d",
					r.Role, r.Healthy, r.Reason, r.LinkUp, r.LagBytes, c.role, c.healthy, c.linkUp, c.lag)
			}
			if (r.LagErr == nil) != (c.lagErr == "") || r.LagErr != nil && !strings.Contains(r.LagErr.Error(), c.lagErr) {
				t.Errorf("LagErr = %v, want containing %q", r.LagErr, c.lagErr)
			}
			if fmt.Sprint(r.Replicas) != fmt.Sprint(c.reps) {
				t.Errorf("Replicas = %v, want %v", r.Replicas, c.reps)
			}
		})
	}
	if _, err := ReadReplication(t.Context(), fakeInfo{err: errors.New("refused")}, nil); err == nil {
		t.Error("ReadReplication with redis down: no error")
	}
}

func TestCollector(t *testing.T) {
	children := fakeChildren(fakeChild{"redis-server", 3, true}, fakeChild{"redis-sentinel", 0, false})
	cases := []struct {
		name string
		o    CollectorOptions
		want map[string]*float64
	}{
		{"children", CollectorOptions{Children: children}, map[string]*float64{
			Key(p+"child_restarts_total", "child", "redis-server"): f(3), Key(p+"child_up", "child", "redis-server"): f(1),
			Key(p+"child_restarts_total", "child", "redis-sentinel"): f(0), Key(p+"child_up", "child", "redis-sentinel"): f(0),
			p + "redis_up": nil,
		}},
		{"redis down", CollectorOptions{Redis: fakeInfo{err: errors.New("refused")}}, map[string]*float64{
			p + "redis_up": f(0), Key(p+"replica_link_up", "replica", "self"): nil,
		}},
		{"master", CollectorOptions{Redis: fakeInfo{text: masterInfo(50, "ip=10.0.0.2,port=6379,state=online,offset=20,lag=0")}},
			map[string]*float64{
				p + "redis_up": f(1), Key(p+"replica_lag_bytes", "replica", "10.0.0.2:6379"): f(30),
				Key(p+"replica_link_up", "replica", "10.0.0.2:6379"): f(1),
			}},
		{"replica", CollectorOptions{Redis: fakeInfo{text: replicaInfo("up", 40)}, MasterInfo: masterAt(50, nil), Self: "10.0.0.2:6379"},
			map[string]*float64{
				p + "redis_up": f(1), Key(p+"replica_lag_bytes", "replica", "10.0.0.2:6379"): f(10),
				Key(p+"replica_link_up", "replica", "10.0.0.2:6379"): f(1),
			}},
		{"replica, link down: lag unknown, absent", CollectorOptions{Redis: fakeInfo{text: replicaInfo("down", 40)}, MasterInfo: masterAt(50, nil)},
			map[string]*float64{
				p + "redis_up": f(1), Key(p+"replica_lag_bytes", "replica", "self"): nil,
				Key(p+"replica_link_up", "replica", "self"): f(0),
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, scrape := newTest(t, NewCollector(c.o))
			want(t, scrape(), c.want)
		})
	}
}
