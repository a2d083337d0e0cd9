//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// plannedFailoverCommand runs `redis-autopilot failover` in a random
// node's environment (as `docker exec` into any node's container would):
// it must print the new master and exit 0.
func plannedFailoverCommand(s *suite, tr *trial) error {
	n := s.nodes[tr.rng.Intn(len(s.nodes))]
	start := time.Now()
	out, errOut, code := n.RunCommand(90*time.Second, "failover")
	took := time.Since(start)
	if code != 0 || out == tr.master.Addr() {
		return fmt.Errorf("redis-autopilot failover on %s: exit %d, printed %q: %s", n.Name, code, out, errOut)
	}
	tr.note("redis-autopilot failover on %s (%s): %s is master after %s", n.Name, role(tr, n), out, took.Round(100*time.Millisecond))
	return nil
}

// rawSentinelFailover sends SENTINEL FAILOVER to a random sentinel, as an
// operator or a script would, and measures how long after the failover's
// first event (+try-failover, from any sentinel) the old master's writes
// were fenced.
func rawSentinelFailover(s *suite, tr *trial) error {
	n := s.nodes[tr.rng.Intn(len(s.nodes))]
	ev, err := nodes.WatchEvents(s.c.Sentinels())
	if err != nil {
		return err
	}
	defer ev.Stop()
	fw := tr.master.WatchFence()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err = s.sentinelClient(n).Do(ctx, "sentinel", "failover", "mymaster").Err()
	cancel()
	if err != nil {
		fw.Stop()
		return fmt.Errorf("SENTINEL FAILOVER on %s: %w", n.SentinelAddr(), err)
	}
	err = s.wait(30*time.Second, func() error {
		if fw.At().IsZero() {
			return fmt.Errorf("the old master %s is not fenced yet", tr.master.Name)
		}
		if p, _ := ev.First("+switch-master"); p.IsZero() {
			return fmt.Errorf("no +switch-master yet")
		}
		return nil
	})
	fenced := fw.Stop()
	try, by := ev.First("+try-failover")
	promote, _ := ev.First("+failover-state-wait-promotion")
	if try.IsZero() || fenced.IsZero() {
		return fmt.Errorf("SENTINEL FAILOVER on %s: +try-failover at %v, fenced at %v: %v", n.SentinelAddr(), try, fenced, err)
	}
	s.fig(tr.scenario).fenceWindows = append(s.fig(tr.scenario).fenceWindows, fenced.Sub(try))
	tr.note("SENTINEL FAILOVER on %s (%s): +try-failover from %s, old master fenced %s later, promotion sent %s later",
		n.Name, role(tr, n), by, fenced.Sub(try).Round(time.Millisecond), promote.Sub(try).Round(time.Millisecond))
	return nil
}
