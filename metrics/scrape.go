package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples is a scrape as data: Key(name, labels) -> value. Tests use it to
// assert what a node exports.
type Samples map[string]float64

// Key is a sample's key in Samples: the name, then the labels sorted by
// name in braces, as Prometheus prints them, e.g.
// `redis_autopilot_role{role="master"}`; just the name without labels.
// labels are name, value pairs.
func Key(name string, labels ...string) string {
	if len(labels) < 2 {
		return name
	}
	var pairs []string
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// Get returns the value of Key(name, labels...) and whether it was there.
func (s Samples) Get(name string, labels ...string) (float64, bool) {
	v, ok := s[Key(name, labels...)]
	return v, ok
}

// Parse reads the Prometheus text format. Counters, gauges and untyped
// samples are kept under their name; summaries and histograms as their
// _sum, _count and quantile or _bucket samples.
func Parse(r io.Reader) (Samples, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	out := Samples{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			addSamples(out, name, m)
		}
	}
	return out, nil
}

func addSamples(out Samples, name string, m *dto.Metric) {
	var labels []string
	for _, l := range m.GetLabel() {
		labels = append(labels, l.GetName(), l.GetValue())
	}
	switch {
	case m.Gauge != nil:
		out[Key(name, labels...)] = m.GetGauge().GetValue()
	case m.Counter != nil:
		out[Key(name, labels...)] = m.GetCounter().GetValue()
	case m.Untyped != nil:
		out[Key(name, labels...)] = m.GetUntyped().GetValue()
	case m.Summary != nil:
		s := m.GetSummary()
		out[Key(name+"_sum", labels...)] = s.GetSampleSum()
		out[Key(name+"_count", labels...)] = float64(s.GetSampleCount())
		for _, q := range s.GetQuantile() {
			out[Key(name, slices.Concat(labels, []string{"quantile", fmt.Sprint(q.GetQuantile())})...)] = q.GetValue()
		}
	case m.Histogram != nil:
		h := m.GetHistogram()
		out[Key(name+"_sum", labels...)] = h.GetSampleSum()
		out[Key(name+"_count", labels...)] = float64(h.GetSampleCount())
		for _, b := range h.GetBucket() {
			out[Key(name+"_bucket", slices.Concat(labels, []string{"le", fmt.Sprint(b.GetUpperBound())})...)] = float64(b.GetCumulativeCount())
		}
	}
}

// MaxScrape is the most bytes Scrape reads: a node's /metrics is tens of
// KiB.
const MaxScrape = 4 << 20

// Scrape GETs url (a node's /metrics) and parses it.
func Scrape(ctx context.Context, url string) (Samples, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	// Ask for the text format: the default Accept could negotiate protobuf.
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	s, err := Parse(httplimit.Body(resp.Body, MaxScrape, "GET "+url, "scrape a redis-autopilot node's HTTP listener (/metrics)"))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return s, nil
}
