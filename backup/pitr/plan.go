package pitr

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Errors of planning a restore.
var (
	// ErrOutsideWindow: no chain can reach the time asked for.
	ErrOutsideWindow = errors.New("time outside the recoverable window")
	// ErrGap: a segment the restore needs is missing or corrupt.
	ErrGap = errors.New("point-in-time chain has a gap")
	// ErrNoChain: the store holds no point-in-time chain.
	ErrNoChain = errors.New("no point-in-time recovery chain in the store")
)

// Latest asks for everything a chain holds.
const Latest int64 = -1

// Chain is what the store holds of one chain.
type Chain struct {
	Info ChainInfo
	// Segments in any order; overlaps allowed.
	Segments []Segment
	// End is set when the chain was ended (end.json): its final offset.
	End *ChainEnd
}

// ChainEnd is end.json, written when a chain is closed.
type ChainEnd struct {
	Offset int64  `json:"offset"`
	LastTS int64  `json:"last_ts"`
	Reason string `json:"reason"`
	// Broken: AOF bytes after Offset were written by redis but never
	// stored (a store outage past the spool limit, a gap).
	Broken bool `json:"broken,omitempty"`
}

// Window is the span of seconds [From, To] a restore can reach.
type Window struct {
	Chain    string
	From, To int64
}

func (w Window) String() string {
	return fmt.Sprintf("%s (chain %s)", windowSpan(w.From, w.To), w.Chain)
}

func windowSpan(from, to int64) string {
	return unixString(from) + " to " + unixString(to)
}

func unixString(ts int64) string { return time.Unix(ts, 0).UTC().Format(time.RFC3339) }

// Path is the chain's segments from offset 0 as far as they reach without
// a gap, and the gap after them, if any.
type Path struct {
	Segments []Segment
	// Reach is the offset the segments reach; LastTS the #TS of the last
	// command they hold (BaseTS when there are none).
	Reach  int64
	LastTS int64
	// Gap describes missing bytes after Reach ("" when none is known).
	Gap string
}

// Follow walks a chain by offsets, taking at each offset the segment that
// reaches furthest (a sealed segment over its pieces).
func Follow(c Chain) Path {
	segs := append([]Segment(nil), c.Segments...)
	sort.Slice(segs, func(i, j int) bool {
		if segs[i].Start != segs[j].Start {
			return segs[i].Start < segs[j].Start
		}
		return segs[i].End > segs[j].End
	})
	p := Path{LastTS: c.Info.BaseTS}
	lastSeq := int64(0)
	for _, s := range segs {
		if s.Start > p.Reach {
			p.Gap = fmt.Sprintf("segment seq %d..%d (bytes %d to %d) is missing", lastSeq+1, s.FirstSeq-1, p.Reach, s.Start)
			return p
		}
		if s.End <= p.Reach || s.Start != p.Reach {
			continue // covered, or overlapping a segment already taken
		}
		p.Segments = append(p.Segments, s)
		p.Reach, p.LastTS, lastSeq = s.End, s.LastTS, s.LastSeq
	}
	if c.End != nil && c.End.Offset > p.Reach {
		p.Gap = fmt.Sprintf("segments after seq %d (bytes %d to %d) are missing", lastSeq, p.Reach, c.End.Offset)
	}
	return p
}

// Window is the span a restore of this chain can reach.
func (c Chain) Window() Window {
	return Window{Chain: c.Info.ID, From: c.Info.BaseTS, To: Follow(c).LastTS}
}

// Plan is a restore's choice: a chain, the segments to replay, and the
// second to truncate at (Latest for none).
type Plan struct {
	Chain    Chain
	Segments []Segment
	Target   int64
}

// Choose picks the chain and segments that restore to target (unix
// seconds, or Latest): the newest chain whose window holds target. Windows
// overlap when a node that takes shipping over starts from the AOF it has
// (startFromOwnAOF); each holds the same writes, stamped by its own node.
// It fails with ErrOutsideWindow (listing every window) or ErrGap (naming
// the missing segment and the last time that can be reached) when no
// chain holds target and one would but for a missing segment.
func Choose(chains []Chain, target int64) (Plan, error) {
	if len(chains) == 0 {
		return Plan{}, ErrNoChain
	}
	sorted := append([]Chain(nil), chains...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Info.ID > sorted[j].Info.ID })
	var gap error
	for _, c := range sorted {
		p := Follow(c)
		if target == Latest || (target >= c.Info.BaseTS && target <= p.LastTS) {
			if target == Latest && p.Gap != "" {
				return Plan{}, gapError(c, p)
			}
			return Plan{Chain: c, Segments: needed(p.Segments, target), Target: target}, nil
		}
		if gap == nil && target > p.LastTS && target >= c.Info.BaseTS && p.Gap != "" {
			gap = gapError(c, p) // an older chain may hold target whole
		}
	}
	if gap != nil {
		return Plan{}, gap
	}
	ws := make([]string, 0, len(sorted))
	for i := len(sorted) - 1; i >= 0; i-- {
		ws = append(ws, sorted[i].Window().String())
	}
	return Plan{}, fmt.Errorf("%w: %s is not in %s", ErrOutsideWindow, unixString(target), strings.Join(ws, ", "))
}

func gapError(c Chain, p Path) error {
	return fmt.Errorf("%w: chain %s: %s; the last time that can be reached is %s (restore --to that time)",
		ErrGap, c.Info.ID, p.Gap, unixString(p.LastTS))
}

// needed drops the segments whose first command is after target.
func needed(segs []Segment, target int64) []Segment {
	if target == Latest {
		return segs
	}
	for i, s := range segs {
		if s.FirstTS > target {
			return segs[:i]
		}
	}
	return segs
}
