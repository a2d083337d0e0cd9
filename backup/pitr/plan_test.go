package pitr

import (
	"errors"
	"strings"
	"testing"
)

func seg(chain string, seq, start, end, first, last int64) Segment {
	return Segment{Chain: chain, FirstSeq: seq, LastSeq: seq, SHA256: strings.Repeat("0", 64),
		Range: Range{Start: start, End: end, FirstTS: first, LastTS: last}}
}

func chainOf(id string, baseTS int64, segs ...Segment) Chain {
	return Chain{Info: ChainInfo{ID: id, BaseTS: baseTS}, Segments: segs}
}

const (
	idA = "20261127T100000Z-aaaaaaaa"
	idB = "20261127T120000Z-bbbbbbbb"
)

func TestFollowTakesSealedOverPieces(t *testing.T) {
	sealed := seg(idA, 1, 0, 300, 100, 103)
	sealed.LastSeq = 3
	c := chainOf(idA, 100, seg(idA, 2, 100, 200, 101, 102), seg(idA, 1, 0, 100, 100, 101), sealed,
		seg(idA, 3, 200, 300, 102, 103), seg(idA, 4, 300, 400, 103, 105))
	p := Follow(c)
	if len(p.Segments) != 2 || p.Segments[0] != sealed || p.Reach != 400 || p.LastTS != 105 || p.Gap != "" {
		t.Fatalf("path %+v", p)
	}
}

func TestFollowGaps(t *testing.T) {
	c := chainOf(idA, 100, seg(idA, 1, 0, 100, 100, 101), seg(idA, 4, 300, 400, 103, 105))
	p := Follow(c)
	if p.Reach != 100 || p.LastTS != 101 || p.Gap != "segment seq 2..3 (bytes 100 to 300) is missing" {
		t.Fatalf("path %+v", p)
	}
	c = chainOf(idA, 100, seg(idA, 1, 0, 100, 100, 101))
	c.End = &ChainEnd{Offset: 250, LastTS: 104}
	if p := Follow(c); p.Gap != "segments after seq 1 (bytes 100 to 250) are missing" {
		t.Fatalf("path %+v", p)
	}
}

func TestChoose(t *testing.T) {
	a := chainOf(idA, 100, seg(idA, 1, 0, 100, 100, 101), seg(idA, 2, 100, 200, 101, 104), seg(idA, 3, 200, 300, 105, 110))
	b := chainOf(idB, 200, seg(idB, 1, 0, 50, 200, 205))
	gappy := chainOf(idB, 200, seg(idB, 1, 0, 50, 200, 205), seg(idB, 3, 80, 90, 207, 209))
	// A node that took shipping over reaches back into a's window, and
	// lost a segment.
	over := chainOf(idB, 102, seg(idB, 1, 0, 50, 102, 105), seg(idB, 3, 80, 90, 107, 112))
	for name, tc := range map[string]struct {
		chains  []Chain
		target  int64
		chain   string
		segs    int
		wantErr error
		msg     string
	}{
		"mid window":                  {[]Chain{a, b}, 102, idA, 2, nil, ""},
		"at the base second":          {[]Chain{a, b}, 100, idA, 1, nil, ""},
		"last second":                 {[]Chain{a, b}, 110, idA, 3, nil, ""},
		"segment starting after T":    {[]Chain{a}, 104, idA, 2, nil, ""},
		"newest chain":                {[]Chain{a, b}, 203, idB, 1, nil, ""},
		"latest":                      {[]Chain{a, b}, Latest, idB, 1, nil, ""},
		"before the first base":       {[]Chain{a, b}, 99, "", 0, ErrOutsideWindow, "1970-01-01T00:01:40Z to 1970-01-01T00:01:50Z (chain " + idA},
		"between chains":              {[]Chain{a, b}, 150, "", 0, ErrOutsideWindow, "is not in"},
		"after everything":            {[]Chain{a, b}, 206, "", 0, ErrOutsideWindow, "1970-01-01T00:03:20Z to 1970-01-01T00:03:25Z"},
		"beyond a gap":                {[]Chain{gappy}, 208, "", 0, ErrGap, "segment seq 2..2 (bytes 50 to 80) is missing; the last time that can be reached is 1970-01-01T00:03:25Z"},
		"before a gap":                {[]Chain{gappy}, 204, idB, 1, nil, ""},
		"latest with a gap":           {[]Chain{gappy}, Latest, "", 0, ErrGap, "seq 2..2"},
		"no chain":                    {nil, 5, "", 0, ErrNoChain, ""},
		"overlap: the newest holds T": {[]Chain{a, over}, 104, idB, 1, nil, ""},
		"overlap: an older chain holds T past the gap": {[]Chain{a, over}, 108, idA, 3, nil, ""},
		"overlap: no chain holds T past the gap":       {[]Chain{a, over}, 111, "", 0, ErrGap, "seq 2..2"},
		"base only":                                    {[]Chain{chainOf(idA, 100)}, 100, idA, 0, nil, ""},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := Choose(tc.chains, tc.target)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want %v with %q", err, tc.wantErr, tc.msg)
				}
				return
			}
			if err != nil || p.Chain.Info.ID != tc.chain || len(p.Segments) != tc.segs || p.Target != tc.target {
				t.Fatalf("plan %s with %d segments to %d, %v; want %s with %d", p.Chain.Info.ID, len(p.Segments), p.Target, err, tc.chain, tc.segs)
			}
		})
	}
}
