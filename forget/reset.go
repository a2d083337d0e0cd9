package forget

import (
	"context"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// fastInfo is the INFO period a sentinel runs with while it rediscovers
// the replicas after SENTINEL RESET (Sentinel's own is 10 s).
const fastInfo = 100 * time.Millisecond

// reset resets the sentinel d names and waits, within ctx, until it
// lists d.Expect again.
//
// A sentinel learns the replicas only from the master's INFO, every 10 s:
// reset, it knows none of them until then, and if the master is lost in
// that window and this sentinel leads the failover, the failover aborts
// (-failover-abort-no-good-slave) and every sentinel waits twice the
// failover-timeout before trying again; this one can never learn the
// replicas from a dead master. Found by the reliability suite's
// master-lost-after-cleanup (failovers of 24 s and over 30 s). So its INFO
// period is cut to fastInfo around the reset (SENTINEL DEBUG, not written
// to its config; a restart restores it), which leaves a window of about
// fastInfo.
func (c *Cleaner) reset(ctx context.Context, d Decision) error {
	s := sentinel.Dial(d.Sentinel, c.o.Password)
	defer s.Close()
	period, err := s.InfoPeriod(ctx)
	switch {
	case err != nil:
		c.log.Warn("cannot shorten the sentinel's INFO period around its reset (Redis before 7.0?)", "sentinel", d.Sentinel, "error", err)
	case period > fastInfo:
		if err := s.SetInfoPeriod(ctx, fastInfo); err != nil {
			return err
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := s.SetInfoPeriod(rctx, period); err != nil {
				c.log.Warn("restore the sentinel's INFO period", "sentinel", d.Sentinel, "period", period, "error", err)
			}
		}()
	}
	if _, err := s.Reset(ctx, c.o.MasterName); err != nil {
		return err
	}
	for ctx.Err() == nil && !knowsAll(ctx, s, c.o.MasterName, d.Expect) {
		ctxtime.Sleep(ctx, fastInfo/2)
	}
	return nil
}

// knowsAll reports whether s lists every one of want as an up replica.
func knowsAll(ctx context.Context, s *sentinel.Client, name string, want []string) bool {
	reps, err := s.Replicas(ctx, name)
	if err != nil {
		return false
	}
	up := map[string]bool{}
	for _, e := range entries(reps) {
		up[e.Addr] = !e.Down
	}
	for _, w := range want {
		if !up[w] {
			return false
		}
	}
	return true
}
