package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// exported returns the name of every metric family this package exports,
// each given a value.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	populate(m)
	reg.MustRegister(NewCollector(CollectorOptions{
		Children: fakeChildren(fakeChild{"redis", 0, true}),
		Redis:    fakeInfo{text: replicaInfo("up", 1)}, MasterInfo: masterAt(2, nil),
	}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	return names
}

var metricName = regexp.MustCompile(Namespace + `_[a-z0-9_]+`)

// TestDocumentedNamesExist: every metric name the alert rules and the README
// section use is exported, and the README section names every metric.
func TestDocumentedNamesExist(t *testing.T) {
	names := exported(t)
	for _, path := range []string{"../examples/prometheus/alerts.yml", "../httpapi/README-section.md"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		used := metricName.FindAllString(string(b), -1)
		if len(used) == 0 {
			t.Errorf("%s names no metric", path)
		}
		for _, n := range used {
			if !names[n] {
				t.Errorf("%s uses %s, which is not exported", path, n)
			}
		}
		if strings.HasSuffix(path, ".md") {
			for n := range names {
				if !strings.Contains(string(b), n) {
					t.Errorf("%s does not document %s", path, n)
				}
			}
		}
	}
}
