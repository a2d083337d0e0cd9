package devcluster

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

func TestLines(t *testing.T) {
	l, err := NewLayout("st", 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		name, got, want string
	}{
		{"node passing", View{"master", true, "this node is the master"}.Line(at, "node1"),
			"15:04:05 node1  master  passing this node is the master"},
		{"node unknown", View{"-", false, notAnswering}.Line(at, "node3"),
			"15:04:05 node3  -       failing " + notAnswering},
		{"one master", Summary{Masters: []string{"127.0.0.1:7001"}, Replicas: []string{"127.0.0.1:7002", "10.0.0.9:6379"}, Sentinels: 3}.Text(l),
			"consul: master node1 127.0.0.1:7001 | replicas passing: node2 10.0.0.9:6379 | sentinels passing: 3"},
		{"two masters", Summary{Masters: []string{"127.0.0.1:7001", "127.0.0.1:7003"}}.Text(l),
			"consul: master node1 127.0.0.1:7001, node3 127.0.0.1:7003 (more than one!) | replicas passing: none | sentinels passing: 0"},
		{"none", Summary{}.Text(l), "consul: master none | replicas passing: none | sentinels passing: 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got  %q\nwant %q", tt.got, tt.want)
			}
		})
	}
}

// TestWatcherPrintsChangesOnly registers a master and a replica in a real
// Consul. node1 serves no /status (as an older binary), so its line comes
// from Consul; node2 does not answer at all. A second poll with nothing
// changed prints nothing; a failing replica check prints the new summary.
func TestWatcherPrintsChangesOnly(t *testing.T) {
	c := harness.StartConsul(t)
	l, ln := layoutWithHTTP(t)
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	register(t, c.Client, "redis", l.Nodes[0].RedisPort)
	register(t, c.Client, "redis-replica", l.Nodes[1].RedisPort)

	var out bytes.Buffer
	w := newWatcher(l, c.Client, &out)
	ctx := context.Background()
	w.poll(ctx)
	want := []string{
		"node1  master  passing as registered in Consul (redis)",
		"node2  -       failing " + notAnswering,
		"consul: master node1 127.0.0.1:" + strconv.Itoa(l.Nodes[0].RedisPort) + " | replicas passing: node2 | sentinels passing: 0",
	}
	expectLines(t, out.String(), want)
	out.Reset()
	w.poll(ctx)
	if out.Len() != 0 {
		t.Fatalf("a poll without change printed %q", out.String())
	}
	check := "service:redis-replica-" + strconv.Itoa(l.Nodes[1].RedisPort)
	if err := c.Client.Agent().UpdateTTL(check, "test", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	w.poll(ctx)
	expectLines(t, out.String(), []string{"consul: master node1 127.0.0.1:" + strconv.Itoa(l.Nodes[0].RedisPort) +
		" | replicas passing: none | sentinels passing: 0"})
}

// layoutWithHTTP returns a 2-node layout and a listener on node1's HTTP
// port.
func layoutWithHTTP(t *testing.T) (Layout, net.Listener) {
	t.Helper()
	for offset := 12000 + harness.FreePort(t)%5000; offset < 38000; offset += 1009 {
		l, err := NewLayout(t.TempDir(), 2, offset)
		if err != nil {
			t.Fatal(err)
		}
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(l.Nodes[0].HTTP)); err == nil {
			return l, ln
		}
	}
	t.Fatal("no offset with node1's HTTP port free")
	return Layout{}, nil
}

func register(t *testing.T, c *api.Client, name string, port int) {
	t.Helper()
	err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: name + "-" + strconv.Itoa(port), Name: name, Address: "127.0.0.1", Port: port,
		Check: &api.AgentServiceCheck{TTL: "1m", Status: api.HealthPassing},
	})
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
}

// expectLines checks that out has exactly the want lines, in order, each
// after an HH:MM:SS time.
func expectLines(t *testing.T, out string, want []string) {
	t.Helper()
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("printed %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i, g := range got {
		if len(g) < 9 || g[9:] != want[i] {
			t.Errorf("line %d = %q, want time + %q", i, g, want[i])
		}
	}
}
