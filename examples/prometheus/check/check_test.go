// Package check parses prometheus.yml and alerts.yml strictly (an unknown
// or misspelt key is an error) and checks what promtool would catch
// cheaply; promtool itself is not available here.
package check

import (
	"os"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v2"
)

type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName         string `yaml:"job_name"`
		MetricsPath     string `yaml:"metrics_path"`
		ConsulSDConfigs []struct {
			Server   string   `yaml:"server"`
			Services []string `yaml:"services"`
		} `yaml:"consul_sd_configs"`
		RelabelConfigs []struct {
			SourceLabels []string `yaml:"source_labels"`
			Regex        string   `yaml:"regex"`
			TargetLabel  string   `yaml:"target_label"`
			Replacement  string   `yaml:"replacement"`
		} `yaml:"relabel_configs"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func load(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestPrometheusConfig(t *testing.T) {
	var c promConfig
	load(t, "../prometheus.yml", &c)
	if len(c.ScrapeConfigs) != 2 || len(c.RuleFiles) != 1 || c.RuleFiles[0] != "alerts.yml" {
		t.Fatalf("want 2 scrape configs and rule_files [alerts.yml], got %+v", c)
	}
	sd := c.ScrapeConfigs[0]
	if len(sd.ConsulSDConfigs) != 1 || strings.Join(sd.ConsulSDConfigs[0].Services, ",") != "redis,redis-replica,redis-sentinel" {
		t.Errorf("consul_sd_configs: %+v", sd.ConsulSDConfigs)
	}
	if len(sd.RelabelConfigs) == 0 || sd.RelabelConfigs[0].TargetLabel != "__address__" || !strings.HasSuffix(sd.RelabelConfigs[0].Replacement, ":8008") {
		t.Errorf("the first relabelling must point __address__ at the metrics port 8008: %+v", sd.RelabelConfigs)
	}
	for _, sc := range c.ScrapeConfigs {
		if sc.JobName == "" || sc.MetricsPath != "/metrics" {
			t.Errorf("scrape config %+v: want a job_name and metrics_path /metrics", sc)
		}
	}
}

var (
	duration = regexp.MustCompile(`^[0-9]+(ms|s|m|h|d|w|y)$`)
	template = regexp.MustCompile(`\{\{[^{}]*\}\}`)
)

func TestAlertRules(t *testing.T) {
	var f ruleFile
	load(t, "../alerts.yml", &f)
	seen := map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q has no name or no rules", g.Name)
		}
		for _, r := range g.Rules {
			switch {
			case r.Alert == "" || r.Expr == "":
				t.Errorf("rule %+v: alert and expr are required", r)
			case seen[r.Alert]:
				t.Errorf("alert %s twice", r.Alert)
			case r.For != "" && !duration.MatchString(r.For):
				t.Errorf("alert %s: for %q is not a Prometheus duration", r.Alert, r.For)
			case r.Labels["severity"] != "warning" && r.Labels["severity"] != "critical":
				t.Errorf("alert %s: severity %q", r.Alert, r.Labels["severity"])
			case r.Annotations["summary"] == "":
				t.Errorf("alert %s: no summary", r.Alert)
			case !balanced(r.Expr):
				t.Errorf("alert %s: unbalanced brackets in %q", r.Alert, r.Expr)
			}
			seen[r.Alert] = true
			for _, a := range r.Annotations {
				if strings.Count(a, "{{") != len(template.FindAllString(a, -1)) {
					t.Errorf("alert %s: malformed template in %q", r.Alert, a)
				}
			}
		}
	}
	for _, must := range []string{"RedisTwoMasters", "RedisRegistryOutOfSync", "RedisChildCrashLoop", "RedisNoRecentBackup",
		"RedisSentinelNoMajority", "RedisReplicaLinkDown"} {
		if !seen[must] {
			t.Errorf("no alert %s", must)
		}
	}
}

// balanced reports whether (), [] and {} nest properly, outside strings.
func balanced(s string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := false
	for _, c := range s {
		switch {
		case c == '"':
			inString = !inString
		case inString:
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case pairs[c] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !inString
}
