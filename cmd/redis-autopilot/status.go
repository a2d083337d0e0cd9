package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/httpapi"
	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// statusReport is what `status --json` prints: the running node's last
// decision (from its HTTP /status) and what redis, Sentinel and Consul say
// now.
type statusReport struct {
	Node       *lifecycle.Status `json:"node,omitempty"`
	NodeError  string            `json:"node_error,omitempty"`
	Redis      redisView         `json:"redis"`
	Sentinel   sentinelView      `json:"sentinel"`
	Consul     consulView        `json:"consul"`
	LastBackup string            `json:"last_backup,omitempty"`
	// PITR is the shipping node's point-in-time progress as Consul holds
	// it (service/redis/pitr/progress, written every few seconds).
	PITR      *pitr.Status `json:"pitr,omitempty"`
	PITRError string       `json:"pitr_error,omitempty"`
}

type redisView struct {
	Role    string `json:"role,omitempty"`
	Master  string `json:"master,omitempty"`
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
	Error   string `json:"error,omitempty"`
}

type sentinelView struct {
	Master string `json:"master,omitempty"`
	Error  string `json:"error,omitempty"`
}

type consulView struct {
	Masters   []string `json:"redis,omitempty"`
	Replicas  []string `json:"redis_replica,omitempty"`
	Sentinels []string `json:"redis_sentinel,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func runStatus(cfg *config.Config, log hclog.Logger, asJSON bool, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := gatherStatus(ctx, cfg)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "status:", err)
			return exitFailure
		}
	} else {
		printStatus(stdout, r)
	}
	if r.Redis.Error != "" {
		return exitFailure
	}
	return exitOK
}

func gatherStatus(ctx context.Context, cfg *config.Config) statusReport {
	var r statusReport
	if st, err := fetchNodeStatus(ctx, cfg.HTTPAddr); err != nil {
		r.NodeError = err.Error()
	} else {
		r.Node = &st
	}
	rc := redisnode.Dial(localAddr(cfg, cfg.RedisPort), cfg.RedisPassword)
	defer rc.Close()
	if info, err := rc.Info(ctx); err != nil {
		r.Redis.Error = err.Error()
	} else {
		r.Redis.Role = info.Role()
		if info.Role() == redisnode.RoleReplica {
			r.Redis.Master = net.JoinHostPort(info.MasterHost(), fmt.Sprint(info.MasterPort()))
		}
		r.Redis.Healthy, r.Redis.Reason = redisnode.Health(info)
	}
	sc := sentinel.Dial(localAddr(cfg, cfg.SentinelPort), cfg.RedisPassword)
	defer sc.Close()
	if m, err := sc.GetMasterAddr(ctx, lifecycle.MasterName); err != nil {
		r.Sentinel.Error = err.Error()
	} else {
		r.Sentinel.Master = m
	}
	reg, err := registry.New(registry.Options{API: cfg.Consul})
	if err == nil {
		r.Consul, r.LastBackup = consulStatus(ctx, reg)
		r.PITR, r.PITRError = pitrProgress(ctx, reg)
	} else {
		r.Consul.Error = err.Error()
	}
	return r
}

func consulStatus(ctx context.Context, reg *registry.Registry) (consulView, string) {
	var v consulView
	list := func(name string) []string {
		ins, err := reg.Instances(ctx, name, false)
		if err != nil {
			v.Error = err.Error()
			return nil
		}
		var out []string
		for _, in := range ins {
			s := net.JoinHostPort(in.Address, strconv.Itoa(in.Port))
			if in.Status != api.HealthPassing {
				s += " (" + in.Status + ")"
			}
			out = append(out, s)
		}
		return out
	}
	v.Masters, v.Replicas, v.Sentinels = list(registry.ServiceMaster), list(registry.ServiceReplica), list(registry.ServiceSentinel)
	last, _, err := reg.Get(ctx, registry.KeyLastBackup)
	if err != nil && v.Error == "" {
		v.Error = err.Error()
	}
	return v, last
}

// pitrProgress reads the shipping node's progress from Consul.
func pitrProgress(ctx context.Context, reg *registry.Registry) (*pitr.Status, string) {
	v, found, err := reg.Get(ctx, pitr.KeyProgress)
	if err != nil {
		return nil, err.Error()
	}
	if !found || v == "" {
		return nil, ""
	}
	var st pitr.Status
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		return nil, fmt.Sprintf("%s: %v", pitr.KeyProgress, err)
	}
	return &st, ""
}

// pitrLine is the point-in-time row of status.
func pitrLine(st *pitr.Status, errText string) string {
	switch {
	case errText != "":
		return "error: " + errText
	case st == nil:
		return "(no node has shipped the AOF)"
	}
	line := fmt.Sprintf("chain %s from %s: shipped to %s, %d bytes behind", st.Chain, st.Node,
		unixRFC3339(st.LastTS), st.BytesBehind)
	if !st.Updated.IsZero() {
		line += ", as of " + st.Updated.Format(time.RFC3339)
	}
	if st.StoreError != "" {
		line += "; the store fails: " + st.StoreError
	}
	return line
}

// fetchNodeStatus reads the running node's /status from its listener.
func fetchNodeStatus(ctx context.Context, httpAddr string) (lifecycle.Status, error) {
	var st lifecycle.Status
	if httpAddr == "" || httpAddr == "off" {
		return st, fmt.Errorf("HTTP_ADDR=off: the node's last decision is not served")
	}
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return st, err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("ask the node at %s: %w", httpAddr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("ask the node at %s: %s", httpAddr, resp.Status)
	}
	return st, httplimit.DecodeJSON(resp.Body, httpapi.MaxStatusReply, "GET "+req.URL.String(),
		"HTTP_ADDR must name this node's HTTP listener (is another program listening there?)", &st)
}

func printStatus(w io.Writer, r statusReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	if r.Node != nil {
		row("role", orNone(string(r.Node.Role)))
		row("this node", r.Node.Self)
		row("master", orNone(r.Node.Master))
		row("registered as", fmt.Sprintf("%s (passing: %v)", orNone(r.Node.Registered), r.Node.Passing))
		row("decision", r.Node.Reason)
		row("  since", r.Node.ReasonSince.Format(time.RFC3339))
		row("started because", r.Node.StartReason)
	} else {
		row("node", "unavailable: "+r.NodeError)
	}
	if r.Redis.Error != "" {
		row("redis", "does not answer: "+r.Redis.Error)
	} else {
		h := "healthy"
		if !r.Redis.Healthy {
			h = "unhealthy: " + r.Redis.Reason
		}
		row("redis", strings.TrimSpace(r.Redis.Role+" "+r.Redis.Master)+", "+h)
	}
	row("sentinel says master", orErr(r.Sentinel.Master, r.Sentinel.Error))
	row("consul redis", orErr(strings.Join(r.Consul.Masters, ", "), r.Consul.Error))
	row("consul redis-replica", strings.Join(r.Consul.Replicas, ", "))
	row("consul redis-sentinel", strings.Join(r.Consul.Sentinels, ", "))
	row("last backup", orNone(r.LastBackup))
	row("point-in-time", pitrLine(r.PITR, r.PITRError))
	tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func orErr(s, err string) string {
	if err != "" {
		return "error: " + err
	}
	return orNone(s)
}
