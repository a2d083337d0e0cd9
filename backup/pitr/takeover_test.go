package pitr

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// A node that takes shipping over (the shipping node died) starts its
// first chain from the AOF its redis process wrote with #TS on, so a write
// made before it took over, which the dead shipper may not have stored, is
// in its window and restores to its second. A redis whose AOF base is
// older than its process (a restart), or one not stamped from its start,
// gets a fresh rewrite: its window begins at the takeover; so does one
// whose incr file is over half the spool limit.
func TestFirstChainStartsFromTheAOFRedisHas(t *testing.T) {
	sup := startSup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		stamped  bool
		restart  bool
		small    bool // a spool limit under twice the incr file
		reason   string
		reachOld bool
	}{
		{"stamped since its start", true, false, false, "Started a point-in-time chain from the AOF base and incr file redis already had", true},
		{"not stamped since its start", false, false, false, "Started a point-in-time chain with a fresh AOF base", false},
		{"the base is older than the process", true, true, false, "Started a point-in-time chain with a fresh AOF base", false},
		{"the incr file is over half the spool limit", true, false, true, "Started a point-in-time chain with a fresh AOF base", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := time.Now().Unix()
			r := startAOFRedis(t)
			if tc.restart {
				dir := r.Dir
				r.Stop()
				nextSecond(t)
				r = startAOFRedisIn(t, dir)
			}
			nextSecond(t)
			old := time.Now().Unix()
			must(t, r.Client.Set(ctx, "before-takeover", "1", 0).Err())
			nextSecond(t)
			var spool int64
			if tc.small {
				st, err := os.Stat(currentIncr(t, r.Dir))
				if err != nil {
					t.Fatal(err)
				}
				spool = st.Size()
			}
			// StampedFromStart: the node's redis.conf turns
			// aof-timestamp-enabled on, as startAOFRedis's does.
			sh, cs := tickShipper(t, r, func(o *ShipperOptions) { o.StampedFromStart, o.SpoolLimit = tc.stamped, spool })
			tick(t, sh, tc.reason)
			if tc.small {
				return
			}
			must(t, r.Client.Set(ctx, "after-takeover", "1", 0).Err())
			tick(t, sh, "Shipping")
			chains := mustChains(t, cs, 1)
			p, err := Choose(chains, old)
			if !tc.reachOld {
				if !errors.Is(err, ErrOutsideWindow) {
					t.Fatalf("restore to %s, before the chain's rewrite: %v; want ErrOutsideWindow", unixString(old), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("restore to %s, the second of a write before the takeover: %v", unixString(old), err)
			}
			if from := chains[0].Window().From; from < started || from > old {
				t.Fatalf("the window begins at %s: not at the base redis wrote when it started (%s to %s)", unixString(from), unixString(started), unixString(old))
			}
			got := restoreAndStart(t, sup, cs, p)
			if pairs(t, got, "before-takeover") != 1 || pairs(t, got, "after-takeover") != 0 {
				t.Fatalf("restore to %s: want the write of that second and not the one after", unixString(old))
			}
			latest := restoreAndStart(t, sup, cs, mustChoose(t, chains, Latest))
			if pairs(t, latest, "before-takeover", "after-takeover") != 2 {
				t.Fatal("restore to latest lacks a write")
			}
		})
	}
}
