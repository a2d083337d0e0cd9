package backup

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
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
// makes at most workers+1 input and workers+1 output buffers (it made a
// pair per chunk and left them to the GC, and the heap grew with it).
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
	if zw.nIn > workers+1 || zw.nOut > workers+1 || out.n == 0 {
		t.Errorf("made %d input and %d output buffers for %d bytes out, want at most %d of each",
			zw.nIn, zw.nOut, out.n, workers+1)
	}
	if err := zw.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
