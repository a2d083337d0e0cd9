package bench

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

var rssBins = flag.String("rss-bins", "", "BenchmarkRSSCompare: binaries to compare, label=path,label=path (built as the Dockerfile does)")

// BenchmarkRSSCompare runs `backup now` of each binary of -rss-bins, plain
// and encrypted, alternating binaries within each of -repeat rounds, at
// each size of -rss-mb, and prints per binary the peak RSS (median, lowest
// and highest), RssAnon and RssFile at the peak and the upload's
// throughput (median, from the "uploaded" log line), so that a change's
// before and after meet the same load:
// go test -run '^$' -bench RSSCompare -benchtime 1x ./bench -rss-bins before=/tmp/a,after=/tmp/b
func BenchmarkRSSCompare(b *testing.B) {
	if *rssBins == "" {
		b.Skip("-rss-bins not set")
	}
	var labels, bins []string
	for _, lb := range strings.Split(*rssBins, ",") {
		l, p, ok := strings.Cut(lb, "=")
		if !ok {
			b.Fatalf("-rss-bins %q: want label=path", lb)
		}
		labels, bins = append(labels, l), append(bins, p)
	}
	for range b.N {
		rep := &report{}
		eachRSSSize(b, rep, func(_ string, r *harness.Redis, rdbMB float64) {
			e := newRSSEnv(b, r)
			got := map[string]*cmpRuns{}
			for range max(*repeat, 1) {
				for _, comp := range []string{"zstd", "zstd+age"} {
					for i, bin := range bins {
						k := labels[i] + " " + comp
						if got[k] == nil {
							got[k] = &cmpRuns{}
						}
						got[k].add(e.backupDetail(b, bin, comp))
					}
				}
			}
			for _, comp := range []string{"zstd", "zstd+age"} {
				for _, l := range labels {
					g := got[l+" "+comp]
					rep.add("| %s, %s, RDB %.0f MB | %.1f MB (%.1f-%.1f) | %.1f / %.1f MB | %.0f MB/s (%.0f-%.0f) |",
						l, comp, rdbMB, g.peak.median(), g.peak.min(), g.peak.best(),
						g.anon.median(), g.file.median(), g.mbps.median(), g.mbps.min(), g.mbps.best())
				}
			}
		})
		fmt.Printf("\n%d rounds per size; load average %s at end\n\n| binary, compression, size | peak RSS median (range) | RssAnon / RssFile at peak, median | upload median (range) |\n|---|---|---|---|\n%s\n",
			*repeat, loadavg(), strings.Join(rep.lines, "\n"))
	}
}

type cmpRuns struct{ peak, anon, file, mbps series }

func (c *cmpRuns) add(d rssDetail) {
	c.peak, c.anon, c.file = append(c.peak, d.peak/1024), append(c.anon, d.anon/1024), append(c.file, d.file/1024)
	c.mbps = append(c.mbps, d.mbps)
}

func (s series) min() float64 {
	m := s[0]
	for _, v := range s {
		m = min(m, v)
	}
	return m
}

// rssDetail is one run's peak (KiB), its anonymous and file parts (KiB)
// at the poll the peak was seen, and the upload's MB/s.
type rssDetail struct{ peak, anon, file, mbps float64 }

var mbpsRe = regexp.MustCompile(`mb_per_s=([0-9.]+)`)

// backupDetail runs `backup now` of bin into a fresh directory store and
// reads the upload's MB/s off its "uploaded" log line.
func (e *rssEnv) backupDetail(b *testing.B, bin, comp string) rssDetail {
	dir := b.TempDir()
	defer os.RemoveAll(dir)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "backup", "now")
	cmd.Env, cmd.Stderr = append(e.environ(comp), "BACKUP_DIR="+dir, "LOG_LEVEL=INFO"), &stderr
	d := watchRSS(b, cmd)
	if m := mbpsRe.FindStringSubmatch(stderr.String()); m != nil {
		d.mbps, _ = strconv.ParseFloat(m[1], 64)
	}
	return d
}

// watchRSS runs cmd to its end and returns its peak RSS: VmHWM from /proc,
// polled every 5 ms (VmHWM only grows, so the last reading is the peak up
// to the final 5 ms), with RssAnon and RssFile of the poll that saw it.
func watchRSS(b *testing.B, cmd *exec.Cmd) rssDetail {
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var d rssDetail
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s := procStatus(status); s["VmHWM"] > d.peak {
			d.peak = s["VmHWM"]
			if s["VmRSS"] >= s["VmHWM"]-256 { // this poll is at the peak
				d.anon, d.file = s["RssAnon"], s["RssFile"]
			}
		}
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("%v: %v", cmd.Args, err)
			}
			return d
		case <-tick.C:
		}
	}
}

// procStatus reads the kB fields of /proc/PID/status.
func procStatus(path string) map[string]float64 {
	raw, _ := os.ReadFile(path)
	m := map[string]float64{}
	for _, l := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if v, found := strings.CutSuffix(strings.TrimSpace(v), " kB"); ok && found {
			m[k], _ = strconv.ParseFloat(v, 64)
		}
	}
	return m
}
