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

// splitFrames cuts a zstd stream into its frames, by their headers and
// block headers (RFC 8878, 3.1.1).
func splitFrames(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var frames [][]byte
	for len(b) > 0 {
		if len(b) < 6 || !bytes.Equal(b[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			t.Fatalf("no zstd frame at %d bytes from the end", len(b))
		}
		desc := b[4]
		single, checksum := desc&0x20 != 0, desc&0x04 != 0
		n := 5 + []int{0, 1, 2, 4}[desc&3] // dictionary ID
		if !single {
			n++ // window descriptor
		}
		n += map[byte]int{0: 0, 1: 2, 2: 4, 3: 8}[desc>>6]
		if desc>>6 == 0 && single {
			n++
		}
		for last := false; !last; {
			h := int(b[n]) | int(b[n+1])<<8 | int(b[n+2])<<16
			size := h >> 3
			last = h&1 == 1
			if (h>>1)&3 == 1 { // RLE: one byte
				size = 1
			}
			n += 3 + size
		}
		if checksum {
			n += 4
		}
		frames, b = append(frames, b[:n]), b[n:]
	}
	return frames
}

// slowWriter yields on every write, so that workers interleave.
type slowWriter struct{ bytes.Buffer }

func (s *slowWriter) Write(p []byte) (int, error) {
	runtime.Gosched()
	return s.Buffer.Write(p)
}

// Any number of workers writes the frames in order, one frame per chunk.
func TestZstdFramesWorkers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	in := make([]byte, 9*zstdChunk+333)
	for i := range in {
		in[i] = "REDIS0011 key:value "[r.IntN(20)]
	}
	for workers := 1; workers <= 4; workers++ {
		var out slowWriter
		if err := zstdFrames(&out, bytes.NewReader(in), int64(len(in)), workers, func(int) {}); err != nil {
			t.Fatal(err)
		}
		if n := len(splitFrames(t, out.Bytes())); n != 10 {
			t.Errorf("%d workers: %d frames for 10 chunks", workers, n)
		}
		zr, err := decompressor(bytes.NewReader(out.Bytes()), "zstd")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		zr.Close()
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%d workers: decoded %d bytes (%v), want the %d written", workers, len(got), err, len(in))
		}
	}
}

// TestZstdFramesWindow: every whole-chunk frame asks for zstdWindow, not
// its 1 MiB of content (the encoders keep that much history; a decoder
// allocates what the frame asks for), and the stream still decodes.
func TestZstdFramesWindow(t *testing.T) {
	var out bytes.Buffer
	r := rand.New(rand.NewPCG(5, 6))
	in := make([]byte, 3*zstdChunk+100)
	for i := range in {
		in[i] = "REDIS0011 key:value "[r.IntN(20)]
	}
	if err := zstdFrames(&out, bytes.NewReader(in), int64(len(in)), 2, func(int) {}); err != nil {
		t.Fatal(err)
	}
	frames := splitFrames(t, out.Bytes())
	if len(frames) != 4 {
		t.Fatalf("%d frames for 3 chunks and 100 bytes, want 4", len(frames))
	}
	for i, f := range frames[:3] {
		var h zstd.Header
		if err := h.Decode(f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if h.SingleSegment || h.WindowSize != zstdWindow || h.FrameContentSize != zstdChunk {
			t.Errorf("frame %d: single segment %v, window %d, content %d; want a %d-byte window over %d bytes",
				i, h.SingleSegment, h.WindowSize, h.FrameContentSize, zstdWindow, zstdChunk)
		}
	}
	zr, err := decompressor(bytes.NewReader(out.Bytes()), "zstd")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("decoded %d bytes (%v), want the %d written", len(got), err, len(in))
	}
}
