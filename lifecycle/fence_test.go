package lifecycle

import (
	"context"
	"io"
	"slices"
	"testing"
)

// lostReply is a redis that applies CONFIG SET but whose reply is lost
// (Sentinel's CLIENT KILL TYPE normal closing the connection).
type lostReply struct{ *fakePeers }

func (p lostReply) SetFenceSetting(ctx context.Context, v string) error {
	_ = p.fakePeers.SetFenceSetting(ctx, v)
	return io.EOF
}

type fenceEvents struct {
	noEvents
	fenced []bool
}

func (e *fenceEvents) Fenced(on bool) { e.fenced = append(e.fenced, on) }

// TestFenceIsReportedHoweverItWasSet: the node reports (logs, and tells
// its events) the fence once each time it goes up or down, also when a set
// took but its reply was lost, and when it finds the fence in place
// (before, the node's log never said "writes fenced" then: seen on Valkey
// 8.1 in make matrix).
func TestFenceIsReportedHoweverItWasSet(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		peers func(*fakePeers) peers
		start string
	}{
		{"set, reply lost", func(p *fakePeers) peers { return lostReply{p} }, "0"},
		{"found in place", func(p *fakePeers) peers { return p }, fenceReplicas},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakePeers{fence: tc.start}
			n := newFakeNode(t, newFakeRegistry(), p)
			n.peers = tc.peers(p)
			ev := &fenceEvents{}
			n.o.Events = ev
			for range 2 {
				n.fence(ctx, true, "a sentinel is failing this master over")
			}
			if !p.fenced() || !slices.Equal(ev.fenced, []bool{true}) {
				t.Fatalf("fence %q, reported %v; want it up and reported once", p.fence, ev.fenced)
			}
			n.fence(ctx, false, "")
			if p.fenced() || !slices.Equal(ev.fenced, []bool{true, false}) {
				t.Fatalf("fence %q, reported %v; want it lifted and reported", p.fence, ev.fenced)
			}
		})
	}
}
