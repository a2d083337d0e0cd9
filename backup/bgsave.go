package backup

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
)

// ErrBgsave is wrapped when redis could not write the RDB snapshot.
var ErrBgsave = errors.New("BGSAVE failed")

// pollInterval is how often INFO is polled while waiting on redis.
const pollInterval = 50 * time.Millisecond

// saveMark identifies the last completed save: rdb_saves counts them
// (Redis 7); rdb_last_save_time is the fallback for older servers.
type saveMark struct {
	saves    int64
	lastSave time.Time
}

func markOf(info redisnode.Info) saveMark {
	n, _ := info.Get("rdb_saves")
	saves, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		saves = -1
	}
	return saveMark{saves: saves, lastSave: info.LastSaveTime()}
}

// after reports whether m is a save completed after before.
func (m saveMark) after(before saveMark) bool {
	if m.saves >= 0 && before.saves >= 0 {
		return m.saves > before.saves
	}
	return m.lastSave.After(before.lastSave)
}

// bgsave makes redis write a fresh dump.rdb and waits until it is written:
// a save already running is waited for first (it may have started before
// our data was wanted), then ours is started with BGSAVE SCHEDULE (which
// also works while an AOF rewrite runs), and we wait until INFO
// persistence shows no save in progress, a save counted after ours was
// asked for, and status ok. It returns the INFO seen at the end.
func bgsave(ctx context.Context, c *redisnode.Client, timeout time.Duration) (redisnode.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := waitInfo(ctx, c, "server", func(i redisnode.Info) bool { return !i.RDBBgsaveInProgress() })
	if err != nil {
		return nil, fmt.Errorf("wait for a running BGSAVE to finish: %w", err)
	}
	before, runID := markOf(info), info["run_id"]
	if before.saves < 0 {
		// Without rdb_saves, a save in the same second would look old.
		if err := ctxtime.Sleep(ctx, time.Until(before.lastSave.Add(time.Second))); err != nil {
			return nil, err
		}
	}
	reply, err := c.Redis().Do(ctx, "BGSAVE", "SCHEDULE").Text()
	if err != nil && !strings.Contains(err.Error(), "already in progress") {
		return nil, fmt.Errorf("BGSAVE: %w", err)
	}
	_ = reply
	started := false
	info, err = waitInfo(ctx, c, "server", func(i redisnode.Info) bool {
		if i["run_id"] != runID {
			return true // redis restarted: its save counters began again
		}
		started = started || i.RDBBgsaveInProgress()
		if i.RDBBgsaveInProgress() {
			return false
		}
		return markOf(i).after(before) || (started && i.RDBLastBgsaveStatus() != "ok")
	})
	if err != nil {
		return nil, fmt.Errorf("wait for BGSAVE: %w", err)
	}
	if info["run_id"] != runID {
		return nil, fmt.Errorf("redis restarted while saving (run_id %s, was %s): %w", info["run_id"], runID, ErrBgsave)
	}
	if !markOf(info).after(before) || info.RDBLastBgsaveStatus() != "ok" {
		return nil, fmt.Errorf("rdb_last_bgsave_status:%s (see the redis log): %w", info.RDBLastBgsaveStatus(), ErrBgsave)
	}
	return info, nil
}

// waitInfo polls INFO section (plus persistence) until done says so or ctx
// ends; the error then names the last INFO error.
func waitInfo(ctx context.Context, c *redisnode.Client, section string, done func(redisnode.Info) bool) (redisnode.Info, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var lastErr error
	for {
		info, err := c.Info(ctx, section, "persistence")
		if err == nil && done(info) {
			return info, nil
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return nil, fmt.Errorf("%w (last INFO error: %v)", ctx.Err(), lastErr)
			}
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
