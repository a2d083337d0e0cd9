package devcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/httpapi"
	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// View is what the live view shows of one node; a line is printed each
// time it changes.
type View struct {
	Role    string // "master", "replica", or "-" while unknown
	Passing bool
	Reason  string
}

// notAnswering is the reason shown while a node's /status does not answer.
const notAnswering = "not answering on /status (starting, or stopped)"

// Line is the plain line printed for a change of node's view.
func (v View) Line(at time.Time, node string) string {
	check := "failing"
	if v.Passing {
		check = "passing"
	}
	return fmt.Sprintf("%s %-6s %-7s %-7s %s", at.Format("15:04:05"), node, v.Role, check, v.Reason)
}

// Summary is what Consul lists as passing: node names (or addresses of
// instances dev did not start).
type Summary struct {
	Masters, Replicas []string
	Sentinels         int
}

// Text is the summary as printed (after the time) when it changes; it
// names the master's address once one passes.
func (s Summary) Text(l Layout) string {
	master := "none"
	if len(s.Masters) > 0 {
		var ms []string
		for _, addr := range s.Masters {
			ms = append(ms, l.label(addr))
		}
		master = strings.Join(ms, ", ")
		if len(ms) > 1 {
			master += " (more than one!)"
		}
	}
	replicas := "none"
	if len(s.Replicas) > 0 {
		var rs []string
		for _, addr := range s.Replicas {
			n, ok := l.Node(addr)
			if !ok {
				rs = append(rs, addr)
				continue
			}
			rs = append(rs, n.Name)
		}
		replicas = strings.Join(rs, " ")
	}
	return fmt.Sprintf("consul: master %s | replicas passing: %s | sentinels passing: %d",
		master, replicas, s.Sentinels)
}

// label is "node1 127.0.0.1:7001", or addr for an instance dev did not start.
func (l Layout) label(addr string) string {
	if n, ok := l.Node(addr); ok {
		return n.Name + " " + addr
	}
	return addr
}

// watcher polls each node's /status and Consul, and prints a line per
// change.
type watcher struct {
	l      Layout
	consul *api.Client
	http   *http.Client
	out    io.Writer
	last   map[string]View
	sum    string
}

func newWatcher(l Layout, consul *api.Client, out io.Writer) *watcher {
	return &watcher{l: l, consul: consul, out: out, last: map[string]View{},
		http: &http.Client{Timeout: time.Second}}
}

// run polls every interval until ctx ends.
func (w *watcher) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		w.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *watcher) poll(ctx context.Context) {
	inst, sum, err := w.consulView(ctx)
	if ctx.Err() != nil {
		return
	}
	for _, n := range w.l.Nodes {
		v, err := w.statusView(ctx, n)
		if errors.Is(err, errNoStatus) {
			var ok bool // no /status here: Consul's view
			if v, ok = inst[n.RedisPort]; !ok {
				v = View{Role: "-", Reason: "not registered in Consul"}
			}
		}
		if ctx.Err() != nil {
			return
		}
		if old, seen := w.last[n.Name]; !seen || old != v {
			w.last[n.Name] = v
			fmt.Fprintln(w.out, v.Line(time.Now(), n.Name))
		}
	}
	if err != nil {
		return // the summary stays as last printed
	}
	if text := sum.Text(w.l); text != w.sum {
		w.sum = text
		fmt.Fprintln(w.out, time.Now().Format("15:04:05"), text)
	}
}

// errNoStatus means the node's binary serves no /status (404).
var errNoStatus = errors.New("no /status endpoint")

func (w *watcher) statusView(ctx context.Context, n NodeLayout) (View, error) {
	url := "http://127.0.0.1:" + strconv.Itoa(n.HTTP) + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return View{}, err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return View{Role: "-", Reason: notAnswering}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return View{}, errNoStatus
	}
	var st lifecycle.Status
	if err := httplimit.DecodeJSON(resp.Body, httpapi.MaxStatusReply, "GET "+url,
		"another program answers on this dev node's HTTP port: stop it, or start dev with other ports", &st); err != nil {
		return View{Role: "-", Reason: "unreadable /status: " + err.Error()}, err
	}
	v := View{Role: string(st.Role), Passing: st.Passing, Reason: st.Reason}
	if v.Role == "" {
		v.Role = "-"
	}
	if v.Reason == "" {
		v.Reason = st.StartReason
	}
	if v.Reason == "" {
		v.Reason = "starting: no decision yet"
	}
	return v, nil
}

// consulView reads the redis, redis-replica and redis-sentinel services:
// a View per redis port (for nodes without /status) and the summary.
func (w *watcher) consulView(ctx context.Context) (map[int]View, Summary, error) {
	inst := map[int]View{}
	var sum Summary
	q := (&api.QueryOptions{}).WithContext(ctx)
	roles := map[string]lifecycle.Role{registry.ServiceMaster: lifecycle.RoleMaster, registry.ServiceReplica: lifecycle.RoleReplica}
	for _, svc := range []string{registry.ServiceMaster, registry.ServiceReplica, registry.ServiceSentinel} {
		entries, _, err := w.consul.Health().Service(svc, "", false, q)
		if err != nil {
			return inst, sum, fmt.Errorf("list %s in Consul: %w", svc, err)
		}
		for _, e := range entries {
			passing := e.Checks.AggregatedStatus() == api.HealthPassing
			addr := net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port))
			switch {
			case svc == registry.ServiceSentinel:
				if passing {
					sum.Sentinels++
				}
				continue
			case svc == registry.ServiceMaster && passing:
				sum.Masters = append(sum.Masters, addr)
			case passing:
				sum.Replicas = append(sum.Replicas, addr)
			}
			inst[e.Service.Port] = View{Role: string(roles[svc]), Passing: passing, Reason: "as registered in Consul (" + svc + ")"}
		}
	}
	sort.Strings(sum.Masters)
	sort.Strings(sum.Replicas)
	return inst, sum, nil
}
