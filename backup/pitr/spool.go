package pitr

import (
	"context"
	"fmt"
	"os"
	"time"
)

// maxStartBackoff caps the wait between failed chain starts.
const maxStartBackoff = time.Minute

// outage is what the shipper keeps while the store fails: the ends of
// chains it could not write yet, the last store error, and when a failed
// chain start may be tried again (a start costs a BGREWRITEAOF).
type outage struct {
	ends       []pendingEnd
	storeErr   string
	startAfter time.Time
	startFails int
}

type pendingEnd struct {
	chain string
	end   ChainEnd
}

// putEnd writes end.json, or keeps it to write before the next chain
// starts.
func (s *Shipper) putEnd(ctx context.Context, chain string, end ChainEnd) {
	pctx, cancel := context.WithTimeout(ctx, s.o.StallTimeout)
	defer cancel()
	if err := s.o.Store.PutEnd(pctx, chain, end); err != nil {
		s.o.Log.Warn("could not write the chain's end; it is written when the store answers", "chain", chain, "error", err)
		s.outage.ends = append(s.outage.ends, pendingEnd{chain, end})
	}
}

// flushEnds writes the ends kept while the store failed.
func (s *Shipper) flushEnds(ctx context.Context) error {
	for len(s.outage.ends) > 0 {
		e := s.outage.ends[0]
		pctx, cancel := context.WithTimeout(ctx, s.o.StallTimeout)
		err := s.o.Store.PutEnd(pctx, e.chain, e.end)
		cancel()
		if err != nil {
			return err
		}
		s.outage.ends = s.outage.ends[1:]
	}
	return nil
}

// tryStart starts a chain once the store answers (the ends of chains it
// could not write are written first) and no failed start is backing off.
func (s *Shipper) tryStart(ctx context.Context) (Decision, error) {
	if now := s.o.Now(); now.Before(s.outage.startAfter) {
		return Decision{Reason: "Waiting before trying to start a point-in-time chain again."}, nil
	}
	if err := s.flushEnds(ctx); err != nil {
		s.outage.storeErr = err.Error()
		return Decision{Reason: "The store does not answer; a new point-in-time chain starts when it does."}, nil
	}
	reason, err := s.startChain(ctx)
	if err != nil {
		s.linkAfter.Store(-1)
		s.outage.startFails++
		backoff := min(s.o.Interval<<min(s.outage.startFails, 16), maxStartBackoff)
		s.outage.startAfter = s.o.Now().Add(backoff)
		return Decision{}, fmt.Errorf("start a point-in-time chain (next try in %v): %w", backoff, err)
	}
	s.outage.startFails, s.outage.startAfter, s.outage.storeErr = 0, time.Time{}, ""
	return Decision{Chain: s.c.info.ID, Reason: reason}, nil
}

// written is the chain offset redis has written: the incr file being
// read and every newer one linked, by their sizes on disk.
func (s *Shipper) written() int64 {
	c := s.c
	n := c.fileBase + c.fileOff
	if st, err := os.Stat(s.aof.incrLink(c.curSeq)); err == nil {
		n = c.fileBase + max(st.Size(), c.fileOff)
	}
	for seq := c.curSeq + 1; ; seq++ {
		st, err := os.Stat(s.aof.incrLink(seq))
		if err != nil {
			return n
		}
		n += st.Size()
	}
}
