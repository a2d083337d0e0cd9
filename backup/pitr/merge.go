package pitr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// Opener opens a stored segment's bytes.
type Opener func(ctx context.Context, s Segment) (io.ReadCloser, error)

// ErrIntegrity: a segment's bytes do not match its name.
var ErrIntegrity = fmt.Errorf("%w: segment bytes do not match their sha256 or length", ErrGap)

// Merge writes contiguous segments to w, one after the other, checking
// each against its length and sha256, and returns the segment they make
// together (its SHA256 that of everything written). Sealed segments are
// made this way from the small pieces shipped every interval, and a
// restore concatenates its segments the same way.
func Merge(ctx context.Context, segs []Segment, open Opener, w io.Writer) (Segment, error) {
	if len(segs) == 0 {
		return Segment{}, fmt.Errorf("merge: no segments")
	}
	out := Segment{Chain: segs[0].Chain, FirstSeq: segs[0].FirstSeq, Range: segs[0].Range}
	out.Commands = 0
	all := sha256.New()
	for i, s := range segs {
		if i > 0 && (s.Start != out.End || s.Chain != out.Chain) {
			return Segment{}, fmt.Errorf("merge: %s does not follow byte %d of chain %s", s.Name(), out.End, out.Chain)
		}
		if err := copyChecked(ctx, s, open, io.MultiWriter(w, all)); err != nil {
			return Segment{}, err
		}
		out.LastSeq, out.End, out.LastTS = s.LastSeq, s.End, s.LastTS
		out.Commands += s.Commands
	}
	out.SHA256 = hex.EncodeToString(all.Sum(nil))
	return out, nil
}

func copyChecked(ctx context.Context, s Segment, open Opener, w io.Writer) error {
	rc, err := open(ctx, s)
	if err != nil {
		return fmt.Errorf("open segment %s: %w", s.Key(), err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(rc, s.Len()+1))
	if err != nil {
		return fmt.Errorf("read segment %s: %w", s.Key(), err)
	}
	if n != s.Len() || hex.EncodeToString(h.Sum(nil)) != s.SHA256 {
		return fmt.Errorf("segment %s: %w (%d bytes read, %d expected)", s.Key(), ErrIntegrity, n, s.Len())
	}
	return nil
}
