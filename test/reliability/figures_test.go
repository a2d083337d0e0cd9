//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// figures are one scenario's results; goals are in goalsMissed.
type figures struct {
	trials                int
	skipped               string
	samples, multiSamples int
	// disagree: samples where Consul's one passing master is not the
	// master a majority of sentinels name (clients write where Sentinel
	// does not replicate from).
	disagree      int
	twoMasterEnds int
	// consul and sentinel are the writes of the writer that finds the
	// master through Consul and of the one that asks the sentinels
	// (go-redis's FailoverClient).
	consul, sentinel writeCounts
	// fenceWindows: how long after the failover's first event the old
	// master's writes were fenced (the raw SENTINEL FAILOVER scenario).
	fenceWindows         []time.Duration
	outages, follows     []time.Duration
	zombies, unrecovered int
	backupsChecked       int
	badBackups           int
}

func (f *figures) add(o *figures) {
	f.trials += o.trials
	f.samples += o.samples
	f.multiSamples += o.multiSamples
	f.disagree += o.disagree
	f.twoMasterEnds += o.twoMasterEnds
	f.consul.add(o.consul)
	f.sentinel.add(o.sentinel)
	f.fenceWindows = append(f.fenceWindows, o.fenceWindows...)
	f.outages = append(f.outages, o.outages...)
	f.follows = append(f.follows, o.follows...)
	f.zombies += o.zombies
	f.unrecovered += o.unrecovered
	f.backupsChecked += o.backupsChecked
	f.badBackups += o.badBackups
}

// writeCounts are one writer's acknowledged and lost writes.
type writeCounts struct {
	waitAcked, waitLost   int
	plainAcked, plainLost int
}

func (c *writeCounts) add(o writeCounts) {
	c.waitAcked += o.waitAcked
	c.waitLost += o.waitLost
	c.plainAcked += o.plainAcked
	c.plainLost += o.plainLost
}

// goalsMissed names the goals f misses.
func (f *figures) goalsMissed() []string {
	var out []string
	if f.multiSamples > 0 {
		out = append(out, fmt.Sprintf("%d samples with two or more passing redis", f.multiSamples))
	}
	if f.twoMasterEnds > 0 {
		out = append(out, fmt.Sprintf("%d trials ended with two masters", f.twoMasterEnds))
	}
	if f.consul.waitLost > 0 {
		out = append(out, fmt.Sprintf("%d WAIT 1 writes lost (Consul clients)", f.consul.waitLost))
	}
	if f.sentinel.waitLost > 0 {
		out = append(out, fmt.Sprintf("%d WAIT 1 writes lost (Sentinel clients)", f.sentinel.waitLost))
	}
	if f.zombies > 0 {
		out = append(out, fmt.Sprintf("%d zombies", f.zombies))
	}
	if f.badBackups > 0 {
		out = append(out, fmt.Sprintf("%d backups named by last-backup fail verification", f.badBackups))
	}
	if f.unrecovered > 0 {
		out = append(out, fmt.Sprintf("%d nodes did not recover without a person", f.unrecovered))
	}
	return out
}

func medianMax(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
	return r(s[len(s)/2]) + " / " + r(s[len(s)-1])
}

// medianMaxMs is medianMax in milliseconds, for short windows.
func medianMaxMs(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%dms / %dms", s[len(s)/2].Milliseconds(), s[len(s)-1].Milliseconds())
}

// report reads back every acknowledged write once more, prints the table
// and fails the test for every goal missed. It runs once.
func (s *suite) report() {
	if s.reported {
		return
	}
	s.reported = true
	s.finalReadBack()
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| scenario\t| trials\t| samples with >=2 passing redis (goal 0)\t| samples Consul's master is not Sentinel's\t| trials ending with 2 masters (0)\t| WAIT-1 writes lost (0)\t| plain writes lost\t| Sentinel clients: WAIT-1 writes lost (0)\t| Sentinel clients: plain writes lost\t| no passing master, median / max\t| registry follows Sentinel, median / max\t| zombies (0)\t| nodes not recovered (0)\t| last-backup verified / failing (0)\t| fenced after the failover's first event, median / max\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	total := &figures{}
	for _, name := range s.order {
		f := s.figs[name]
		total.add(f)
		if f.skipped != "" && f.trials == 0 {
			fmt.Fprintf(tw, "| %s\t| SKIPPED: %s\t|\t|\t|\t|\t|\t|\t|\t|\t|\t|\t|\t|\t|\t|\n", name, f.skipped)
			continue
		}
		row(tw, name, f)
	}
	row(tw, "overall", total)
	tw.Flush()
	fmt.Printf("\nreliability figures (seed %d, %s mode, %d samples every 200 ms, %d node restarts by the restart policy, Consul agents per node: %v, backups: %s):\n%s\n",
		s.st.seed, map[bool]string{true: "long", false: "short"}[s.st.long], total.samples, s.policyRestarts, s.agents, s.backupsNote(), b.String())
	for _, name := range append(slices.Clone(s.order), "overall") {
		f := s.figs[name]
		if name == "overall" {
			f = total
		}
		if missed := f.goalsMissed(); len(missed) > 0 {
			s.failf("%s misses its goals: %s", name, strings.Join(missed, ", "))
		}
	}
	if out := os.Getenv("RELIABILITY_TABLE"); out != "" {
		os.WriteFile(out, []byte(b.String()), 0o644)
	}
	s.keepLogs()
}

func (s *suite) logDir() string {
	return filepath.Join(os.TempDir(), "reliability-logs", fmt.Sprint(s.st.seed))
}

// keepLogs copies every node's log out of its temporary directory.
func (s *suite) keepLogs() {
	dir := s.logDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Logf("keep logs: %v", err)
		return
	}
	for _, n := range s.nodes {
		os.WriteFile(filepath.Join(dir, n.Name+".log"), []byte(n.Log()), 0o644)
	}
	s.t.Logf("node logs kept in %s", dir)
}

func row(tw *tabwriter.Writer, name string, f *figures) {
	fmt.Fprintf(tw, "| %s\t| %d\t| %d of %d\t| %d\t| %d\t| %d of %d\t| %d of %d\t| %d of %d\t| %d of %d\t| %s\t| %s\t| %d\t| %d\t| %d / %d\t| %s\t|\n", name, f.trials,
		f.multiSamples, f.samples, f.disagree, f.twoMasterEnds, f.consul.waitLost, f.consul.waitAcked, f.consul.plainLost, f.consul.plainAcked,
		f.sentinel.waitLost, f.sentinel.waitAcked, f.sentinel.plainLost, f.sentinel.plainAcked,
		medianMax(f.outages), medianMax(f.follows), f.zombies, f.unrecovered, f.backupsChecked, f.badBackups, medianMaxMs(f.fenceWindows))
}

// finalReadBack reads every write acknowledged in the whole run on the
// final master; a write lost after its trial checked it is counted in
// the row "(read back at the end)".
func (s *suite) finalReadBack() {
	master, _, err := s.health()
	if err != nil || master == nil {
		s.failf("final read-back: no master: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := &figures{}
	for _, wr := range s.writers(f) {
		plain, waited := wr.w.Acked(time.Time{}, s.lastCheck)
		for _, k := range []struct {
			acks []nodes.Ack
			lost *int
		}{{plain, &wr.counts.plainLost}, {waited, &wr.counts.waitLost}} {
			lost, err := nodes.Lost(ctx, master.Client, k.acks)
			if err != nil {
				s.failf("final read-back: %v", err)
				return
			}
			for _, a := range lost {
				if !s.counted[a.Key] {
					*k.lost++
				}
			}
		}
	}
	if f.consul.plainLost+f.consul.waitLost+f.sentinel.plainLost+f.sentinel.waitLost > 0 {
		s.figs["(read back at the end)"] = f
		s.order = append(s.order, "(read back at the end)")
	}
}
