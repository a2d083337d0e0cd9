package pitr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestSegmentNameRoundTrip(t *testing.T) {
	id, err := NewChainID(time.Date(2026, 11, 27, 15, 12, 1, 0, time.UTC))
	if err != nil || !ValidChainID(id) || !strings.HasPrefix(id, "20261127T151201Z-") {
		t.Fatalf("chain id %q, %v", id, err)
	}
	s := Segment{Chain: id, FirstSeq: 3, LastSeq: 9, SHA256: sum([]byte("x")),
		Range: Range{Start: 100, End: 4096, FirstTS: 1795854617, LastTS: 1795854620}}
	got, err := ParseSegmentName(id, s.Name())
	if err != nil || got != s {
		t.Fatalf("parsed %+v, %v; want %+v", got, err, s)
	}
	if !strings.HasPrefix(s.Key(), id+"/seg-00000003-00000009-") {
		t.Fatalf("key %q", s.Key())
	}
	bad := []string{
		"seg-1-2.aof", s.Name() + ".tmp", strings.Replace(s.Name(), "0000000000000064", "0000000000001064", 1), // start after end
		strings.Replace(s.Name(), "00000003-00000009", "00000009-00000003", 1),
	}
	for _, n := range bad {
		if _, err := ParseSegmentName(id, n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q: err = %v, want ErrInvalidName", n, err)
		}
	}
}

// pieces cuts data at the given offsets into segments of chain "c".
func pieces(data []byte, cuts []int64, tss []int64) ([]Segment, map[string][]byte) {
	var segs []Segment
	blobs := map[string][]byte{}
	start := int64(0)
	for i, end := range cuts {
		b := data[start:end]
		s := Segment{Chain: "c", FirstSeq: int64(i + 1), LastSeq: int64(i + 1), SHA256: sum(b),
			Range: Range{Start: start, End: end, FirstTS: tss[i], LastTS: tss[i+1]}}
		segs = append(segs, s)
		blobs[s.Name()] = b
		start = end
	}
	return segs, blobs
}

func opener(blobs map[string][]byte) Opener {
	return func(_ context.Context, s Segment) (io.ReadCloser, error) {
		b, ok := blobs[s.Name()]
		if !ok {
			return nil, errors.New("no such object")
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
}

func TestMerge(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	segs, blobs := pieces(data, []int64{5, 12, 20}, []int64{10, 11, 12, 13})
	var out bytes.Buffer
	m, err := Merge(context.Background(), segs, opener(blobs), &out)
	if err != nil {
		t.Fatal(err)
	}
	want := Segment{Chain: "c", FirstSeq: 1, LastSeq: 3, SHA256: sum(data), Range: Range{Start: 0, End: 20, FirstTS: 10, LastTS: 13}}
	if m != want || out.String() != string(data) {
		t.Fatalf("merged %+v %q, want %+v", m, out.String(), want)
	}
	blobs[segs[1].Name()] = []byte("XXXXXXX")
	if _, err := Merge(context.Background(), segs, opener(blobs), io.Discard); !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), segs[1].Key()) {
		t.Fatalf("corrupt piece: err = %v, want ErrIntegrity naming %s", err, segs[1].Key())
	}
	if _, err := Merge(context.Background(), []Segment{segs[0], segs[2]}, opener(blobs), io.Discard); err == nil || !strings.Contains(err.Error(), "does not follow byte 5") {
		t.Fatalf("gap: err = %v", err)
	}
}
