package backup

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
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
		for _, size := range []int{0, 1, zstdChunk, len(big)} {
			var out bytes.Buffer
			zw, err := compressor(&out, comp)
			if err != nil {
				t.Fatal(err)
			}
			// odd write sizes cross chunk boundaries; io.Copy uses ReadFrom
			for p := big[:size]; len(p) > 0; {
				k := min(len(p), 1+r.IntN(1<<20))
				if _, err := zw.Write(p[:k]); err != nil {
					t.Fatal(err)
				}
				p = p[k:]
			}
			if n, err := io.Copy(zw, io.LimitReader(bytes.NewReader(big), int64(size))); err != nil || n != int64(size) {
				t.Fatalf("io.Copy: %d, %v", n, err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			zr, err := decompressor(&out, comp)
			if err != nil {
				t.Fatalf("%s/%d: %v", comp, size, err)
			}
			back, err := io.ReadAll(zr)
			want := append(append([]byte(nil), big[:size]...), big[:size]...)
			if err != nil || !bytes.Equal(back, want) {
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

// A write error downstream reaches the producer and Close, without a hang.
func TestParallelZstdWriteError(t *testing.T) {
	zw, err := newParallelZstd(&failWriter{after: 10}, 2)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 8*zstdChunk)
	var werr error
	for i := 0; i < 8 && werr == nil; i++ {
		_, werr = zw.Write(data[i*zstdChunk : (i+1)*zstdChunk])
	}
	if cerr := zw.Close(); cerr == nil || cerr.Error() != "disk full" {
		t.Fatalf("Close = %v (Write %v), want disk full", cerr, werr)
	}
}

// TestParallelZstdMemoryIsBounded: however long the stream, the writer
// makes at most workers input and workers output buffers (it made a pair
// per chunk and left them to the GC, and the heap grew with it; later it
// kept a spare of each, 2 MiB for no throughput).
func TestParallelZstdMemoryIsBounded(t *testing.T) {
	const workers = 2
	var out countingWriter
	zw, err := newParallelZstd(&out, workers)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	chunk := make([]byte, zstdChunk/3)
	for range 40 { // about 13 chunks
		for i := range chunk {
			chunk[i] = "REDIS0010abcdefgh"[r.IntN(17)]
		}
		if _, err := zw.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw.nIn > workers || zw.nOut > workers || out.n == 0 {
		t.Errorf("made %d input and %d output buffers for %d bytes out, want at most %d of each",
			zw.nIn, zw.nOut, out.n, workers)
	}
	if err := zw.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// frameWriter keeps each Write of the parallel writer: one zstd frame.
type frameWriter struct{ frames [][]byte }

func (f *frameWriter) Write(p []byte) (int, error) {
	f.frames = append(f.frames, bytes.Clone(p))
	return len(p), nil
}

// TestParallelZstdWindow: every whole-chunk frame asks for zstdWindow, not
// its 1 MiB of content (the encoders keep that much history; a decoder
// allocates what the frame asks for), and the stream still decodes.
func TestParallelZstdWindow(t *testing.T) {
	var out frameWriter
	zw, err := newParallelZstd(&out, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	in := make([]byte, 3*zstdChunk+100)
	for i := range in {
		in[i] = "REDIS0011 key:value "[r.IntN(20)]
	}
	if _, err := zw.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
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
