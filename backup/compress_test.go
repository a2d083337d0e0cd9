package backup

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestCompressRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 3*zstdChunk+12345)
	for i := range big {
		big[i] = "REDIS0010abcdefgh"[r.IntN(17)] // compressible
	}
	for _, comp := range []string{"zstd", "gzip", ""} {
		for _, size := range []int{0, 1, zstdBlock + 7, zstdChunk, len(big)} {
			var out bytes.Buffer
			var read atomic.Int64
			// src holds more than size: only size bytes are the snapshot
			if err := compressTo(&out, bytes.NewReader(big), int64(size), &read, comp, nil); err != nil {
				t.Fatalf("%s/%d: %v", comp, size, err)
			}
			if read.Load() != int64(size) {
				t.Errorf("%s/%d: counted %d bytes read", comp, size, read.Load())
			}
			zr, err := decompressor(&out, comp)
			if err != nil {
				t.Fatalf("%s/%d: %v", comp, size, err)
			}
			back, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(back, big[:size]) {
				t.Fatalf("%s/%d: got %d bytes, %v", comp, size, len(back), err)
			}
		}
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after -= len(p); f.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// A write error downstream ends every worker, without a hang, and is the
// error returned.
func TestZstdFramesWriteError(t *testing.T) {
	data := make([]byte, 8*zstdChunk)
	for _, workers := range []int{1, 2, 3} {
		err := zstdFrames(&failWriter{after: 10}, bytes.NewReader(data), int64(len(data)), workers, func(int) {})
		if err == nil || err.Error() != "disk full" {
			t.Fatalf("%d workers: %v, want disk full", workers, err)
		}
	}
}

// A snapshot shorter than its size (truncated under us) fails the backup
// and says where.
func TestZstdFramesShortSnapshot(t *testing.T) {
	data := make([]byte, 3*zstdChunk)
	err := zstdFrames(io.Discard, bytes.NewReader(data[:2*zstdChunk+5]), int64(len(data)), 2, func(int) {})
	if err == nil || !strings.Contains(err.Error(), "ends at byte 2097157, before its size") || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want a read error naming the offset", err)
	}
}

// TestZstdFramesAllocatesNothingPerChunk: however long the snapshot, the
// writer keeps one encoder and one set of buffers per worker (an earlier
// writer made a pair of 1 MiB buffers per chunk and left them to the GC,
// and the heap grew with it). 12 chunks more may not cost a chunk more.
func TestZstdFramesAllocatesNothingPerChunk(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 16*zstdChunk)
	for i := range data {
		data[i] = "REDIS0010abcdefgh"[r.IntN(17)]
	}
	allocated := func(chunks int) uint64 {
		var out countingWriter
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if err := zstdFrames(&out, bytes.NewReader(data), int64(chunks*zstdChunk), 2, func(int) {}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if out.n == 0 {
			t.Fatal("nothing written")
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	allocated(2) // the library's first-use tables
	few, many := allocated(4), allocated(16)
	if many > few+zstdChunk/2 {
		t.Errorf("16 chunks allocated %d bytes, 4 chunks %d: %d more for 12 chunks, want under %d",
			many, few, many-few, zstdChunk/2)
	}
}

type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// frameWriter keeps each Write of zstdFrames: one zstd frame.
type frameWriter struct{ frames [][]byte }

func (f *frameWriter) Write(p []byte) (int, error) {
	f.frames = append(f.frames, bytes.Clone(p))
	return len(p), nil
}

// TestZstdFramesWindow: every whole-chunk frame asks for zstdWindow, not
// its 1 MiB of content (the encoders keep that much history; a decoder
// allocates what the frame asks for), and the stream still decodes.
func TestZstdFramesWindow(t *testing.T) {
	var out frameWriter
	r := rand.New(rand.NewPCG(5, 6))
	in := make([]byte, 3*zstdChunk+100)
	for i := range in {
		in[i] = "REDIS0011 key:value "[r.IntN(20)]
	}
	if err := zstdFrames(&out, bytes.NewReader(in), int64(len(in)), 2, func(int) {}); err != nil {
		t.Fatal(err)
	}
	if len(out.frames) != 4 {
		t.Fatalf("%d frames for 3 chunks and 100 bytes, want 4", len(out.frames))
	}
	for i, f := range out.frames[:3] {
		var h zstd.Header
		if err := h.Decode(f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if h.SingleSegment || h.WindowSize != zstdWindow || h.FrameContentSize != zstdChunk {
			t.Errorf("frame %d: single segment %v, window %d, content %d; want a %d-byte window over %d bytes",
				i, h.SingleSegment, h.WindowSize, h.FrameContentSize, zstdWindow, zstdChunk)
		}
	}
	zr, err := decompressor(bytes.NewReader(bytes.Join(out.frames, nil)), "zstd")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("decoded %d bytes (%v), want the %d written", len(got), err, len(in))
	}
}
