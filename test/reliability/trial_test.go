//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// trial is one fault played on the cluster.
type trial struct {
	scenario string
	n        int
	rng      *rand.Rand
	master   *nodes.Node
	replicas []*nodes.Node
	faultAt  time.Time
	// notes say what the fault did, for the trial's log line.
	notes []string
	// Writes acknowledged in [excuseFrom, excuseTo) may be lost by design
	// (after the backup a restore brings back); checkBulk: read back the
	// bulk keys too.
	excuseFrom, excuseTo time.Time
	excused              int
	checkBulk            bool
}

func (tr *trial) note(format string, args ...any) {
	tr.notes = append(tr.notes, fmt.Sprintf(format, args...))
}

// runTrial waits for a whole cluster, plays the fault, waits for the
// cluster to be whole again without help, and adds up what happened.
func (s *suite) runTrial(sc scenario, i int) {
	f := s.fig(sc.name)
	if sc.needs != nil {
		if err := sc.needs(s); err != nil {
			if f.skipped == "" {
				s.t.Logf("SKIPPED scenario %s: %v", sc.name, err)
			}
			f.skipped = err.Error()
			return
		}
	}
	master := s.whole(f, 45*time.Second)
	tr := &trial{scenario: sc.name, n: i, rng: s.rng(sc.name, i), master: master}
	for _, n := range s.nodes {
		if n != master {
			tr.replicas = append(tr.replicas, n)
		}
	}
	s.pause(between(tr.rng, 500*time.Millisecond, 1500*time.Millisecond))
	tr.faultAt = time.Now()
	if err := sc.fault(s, tr); err != nil {
		s.failf("%s #%d: the fault failed: %v", sc.name, i, err)
	}
	healed := time.Now()
	_, bad, err := s.waitWhole(recoverTimeout)
	last, _ := s.check.Last()
	if err != nil {
		f.unrecovered += max(1, len(bad))
		s.failf("%s #%d (seed %d): the cluster was not whole %s after the fault ended: %v\n%s",
			sc.name, i, s.st.seed, recoverTimeout, err, s.tails(bad))
		s.personFix(bad)
	} else {
		tr.note("whole again %s after the fault ended", time.Since(healed).Round(100*time.Millisecond))
	}
	if len(last.Masters()) > 1 || len(last.Passing) > 1 {
		f.twoMasterEnds++
		s.failf("%s #%d (seed %d): ended with two masters: roles %v, Consul passing %v", sc.name, i, s.st.seed, last.Roles, last.Passing)
	}
	s.pause(time.Second) // writes reach the master the cluster ended with
	s.measure(f, tr, time.Now())
}

// whole waits for a whole cluster and returns its master; a cluster that
// does not become whole gets a person's help, counted against f.
func (s *suite) whole(f *figures, timeout time.Duration) *nodes.Node {
	master, bad, err := s.waitWhole(timeout)
	if err == nil {
		return master
	}
	f.unrecovered += max(1, len(bad))
	s.failf("the cluster is not whole before the trial: %v\n%s", err, s.tails(bad))
	return s.personFix(bad)
}

func (s *suite) waitWhole(timeout time.Duration) (master *nodes.Node, bad map[string]string, err error) {
	err = s.wait(timeout, func() error {
		master, bad, err = s.health()
		return err
	})
	return master, bad, err
}

// personFix is what an operator would do: restart the nodes named bad
// (all of them when none is named). The suite stops when even that fails.
func (s *suite) personFix(bad map[string]string) *nodes.Node {
	for _, n := range s.nodes {
		if _, ok := bad[n.Name]; ok || len(bad) == 0 {
			s.t.Logf("a person restarts %s", n.Name)
			n.KillAll()
			n.Start()
		}
	}
	master, bad, err := s.waitWhole(recoverTimeout)
	if err != nil {
		s.report()
		s.t.Fatalf("the cluster is not whole even after restarting nodes: %v\n%s", err, s.tails(bad))
	}
	return master
}

// tails returns the end of the logs of the nodes named.
func (s *suite) tails(bad map[string]string) string {
	var b strings.Builder
	for _, n := range s.nodes {
		if _, ok := bad[n.Name]; ok || len(bad) == 0 {
			fmt.Fprintf(&b, "--- %s (%s) log tail:\n%s\n", n.Name, n.Addr(), n.Proc.Tail(25))
		}
	}
	return b.String()
}

// measure adds the trial's samples, writes and processes to f.
func (s *suite) measure(f *figures, tr *trial, end time.Time) {
	f.trials++
	samples := s.check.Samples(s.lastCheck, end)
	multi := 0
	for _, sm := range samples {
		if len(sm.Passing) == 1 && sm.SentinelMaster != "" && sm.Passing[0] != sm.SentinelMaster {
			f.disagree++
		}
		if len(sm.Passing) >= 2 {
			if multi == 0 {
				s.failf("%s #%d (seed %d): Consul listed %v as passing masters at %s (roles %v)",
					tr.scenario, tr.n, s.st.seed, sm.Passing, sm.At.Format("15:04:05.000"), sm.Roles)
			}
			multi++
		}
	}
	f.samples += len(samples)
	f.multiSamples += multi
	if d, ok := outage(s.check.Samples(tr.faultAt, end), end); ok {
		f.outages = append(f.outages, d)
		tr.note("no passing master for %s", d.Round(100*time.Millisecond))
	}
	for _, d := range follows(samples, end) {
		f.follows = append(f.follows, d)
		tr.note("registry followed Sentinel in %s", d.Round(100*time.Millisecond))
	}
	s.checkWrites(f, tr, end)
	s.checkZombies(f, tr)
	if s.backupDir != "" {
		s.checkBackup(f, tr)
	}
	s.t.Logf("%s #%d: %s", tr.scenario, tr.n, strings.Join(tr.notes, "; "))
	s.lastCheck = end
}

// checkWrites reads back, on the master, the writes each writer
// acknowledged since the last check.
func (s *suite) checkWrites(f *figures, tr *trial, end time.Time) {
	// Waits: a cluster seen whole just after Consul's server came back may
	// have been its state from before the outage, which the agents then
	// correct (a check whose TTL ran out meanwhile) until the nodes'
	// next tick.
	master, _, err := s.waitWhole(recoverTimeout)
	if err != nil || master == nil {
		s.failf("%s #%d: no master to read the writes back from: %v", tr.scenario, tr.n, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if tr.checkBulk {
		s.checkBulk(ctx, tr, master)
	}
	for _, wr := range s.writers(f) {
		s.checkWriter(ctx, tr, wr, master, end)
	}
	if !tr.excuseTo.IsZero() {
		tr.note("%d writes acknowledged after the backup not checked", tr.excused)
	}
}

// checkWriter reads back the writes of one writer.
func (s *suite) checkWriter(ctx context.Context, tr *trial, wr namedWriter, master *nodes.Node, end time.Time) {
	plain, waited := wr.w.Acked(s.lastCheck, end)
	plain, waited = s.excuse(tr, plain), s.excuse(tr, waited)
	if !tr.excuseTo.IsZero() && tr.excuseFrom.Before(s.lastCheck) {
		// A restore from an older backup (backup-store-corrupt) also loses
		// writes that earlier trials acknowledged and checked after it.
		p, w := wr.w.Acked(tr.excuseFrom, s.lastCheck)
		s.excuse(tr, append(p, w...))
	}
	lostP, err1 := nodes.Lost(ctx, master.Client, plain)
	lostW, err2 := nodes.Lost(ctx, master.Client, waited)
	if err1 != nil || err2 != nil {
		s.failf("%s #%d: read back the %s clients' writes: %v %v", tr.scenario, tr.n, wr.name, err1, err2)
		return
	}
	wr.counts.plainAcked += len(plain)
	wr.counts.waitAcked += len(waited)
	wr.counts.plainLost += len(lostP)
	wr.counts.waitLost += len(lostW)
	for _, a := range append(lostP, lostW...) {
		s.counted[a.Key] = true
	}
	if len(lostW) > 0 {
		s.failf("%s #%d (seed %d): %d writes of the %s clients acknowledged with WAIT 1 are lost, e.g. %s acknowledged at %s",
			tr.scenario, tr.n, s.st.seed, len(lostW), wr.name, lostW[0].Key, lostW[0].At.Format("15:04:05.000"))
	}
	tr.note("%s clients' writes lost: plain %d/%d, WAIT 1 %d/%d", wr.name, len(lostP), len(plain), len(lostW), len(waited))
}

// namedWriter is a writer with the counts it adds to.
type namedWriter struct {
	name   string
	w      *nodes.Writer
	counts *writeCounts
}

// writers are the suite's writers: the Consul clients and the Sentinel
// clients, each counted in f.
func (s *suite) writers(f *figures) []namedWriter {
	return []namedWriter{{"Consul", s.writer, &f.consul}, {"Sentinel", s.swriter, &f.sentinel}}
}

// excuse drops the writes the trial may lose by design, and says so.
func (s *suite) excuse(tr *trial, acks []nodes.Ack) []nodes.Ack {
	if tr.excuseTo.IsZero() {
		return acks
	}
	var out []nodes.Ack
	for _, a := range acks {
		if !a.At.Before(tr.excuseFrom) && a.At.Before(tr.excuseTo) {
			s.counted[a.Key] = true
			tr.excused++
			continue
		}
		out = append(out, a)
	}
	return out
}

// checkBulk reads back the keys loaded at the start: a restore must bring
// back every one (the test fails otherwise).
func (s *suite) checkBulk(ctx context.Context, tr *trial, master *nodes.Node) {
	var acks []nodes.Ack
	for i := 0; i < s.bulk; i++ {
		acks = append(acks, nodes.Ack{Key: fmt.Sprintf("bulk:%d", i)})
	}
	missing, err := nodes.Missing(ctx, master.Client, acks)
	if err != nil {
		s.failf("%s #%d: read back the bulk keys: %v", tr.scenario, tr.n, err)
		return
	}
	if len(missing) > 0 {
		s.failf("%s #%d (seed %d): %d of %d bulk keys loaded at the start are missing after the restore", tr.scenario, tr.n, s.st.seed, len(missing), len(acks))
	}
	tr.note("bulk keys missing: %d/%d", len(missing), len(acks))
}

// checkZombies counts the nodes' unreaped children that are still there a
// second later (a child that has just exited is a zombie for a moment).
func (s *suite) checkZombies(f *figures, tr *trial) {
	first := map[int]bool{}
	for _, n := range s.nodes {
		for _, p := range n.Zombies() {
			first[p] = true
		}
	}
	if len(first) == 0 {
		return
	}
	s.pause(time.Second)
	for _, n := range s.nodes {
		for _, p := range n.Zombies() {
			if first[p] {
				f.zombies++
				s.failf("%s #%d: zombie pid %d under %s", tr.scenario, tr.n, p, n.Name)
			}
		}
	}
}

// outage is how long, after the first sample without a serving master,
// until one serves again (until end if none does).
func outage(samples []nodes.Sample, end time.Time) (time.Duration, bool) {
	var from time.Time
	for _, sm := range samples {
		switch {
		case from.IsZero() && !sm.Serving():
			from = sm.At
		case !from.IsZero() && sm.Serving():
			return sm.At.Sub(from), true
		}
	}
	if from.IsZero() {
		return 0, false
	}
	return end.Sub(from), true
}

// follows returns, for each change of the master a majority of sentinels
// name, how long until Consul listed exactly that master as passing.
func follows(samples []nodes.Sample, end time.Time) []time.Duration {
	var out []time.Duration
	prev := ""
	for i, sm := range samples {
		m := sm.SentinelMaster
		if m == "" || m == prev {
			continue
		}
		if prev != "" {
			d := end.Sub(sm.At)
			for _, later := range samples[i:] {
				if len(later.Passing) == 1 && later.Passing[0] == m {
					d = later.At.Sub(sm.At)
					break
				}
			}
			out = append(out, d)
		}
		prev = m
	}
	return out
}
