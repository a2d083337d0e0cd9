package backup

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// BenchmarkZstdWriters compares our parallel zstd writer (zstdFrames) with
// klauspost's own stream encoder on the same input, in the same run:
// throughput, compression ratio and peak heap, each variant's figures as
// ratios to ours, paired within a round. bench/run.sh runs it on the
// benchmark's RDB (ZSTD_BENCH_FILE); without one it compresses 64 MB of
// generated data (random and repetitive parts, about as compressible as
// an RDB). Run once: go test -run '^$' -bench ZstdWriters -benchtime 1x ./backup
func BenchmarkZstdWriters(b *testing.B) {
	data := zstdBenchInput(b)
	variants := []struct {
		name string
		run  func(w io.Writer, data []byte) error
	}{
		{fmt.Sprintf("ours: zstdFrames, %d KiB frames, %d KiB window, fixed buffers", zstdChunk>>10, zstdWindow>>10), func(w io.Writer, data []byte) error {
			return zstdFrames(w, bytes.NewReader(data), int64(len(data)), concurrency(), func(int) {})
		}},
		{"klauspost stream, WithConcurrentBlocks, 256 KiB window", libraryZstd(256 << 10)},
		{"klauspost stream, WithConcurrentBlocks, 512 KiB window", libraryZstd(512 << 10)},
		{"klauspost stream, WithConcurrentBlocks, default window", libraryZstd(0)},
		{"klauspost stream, one core (no concurrent blocks)", streamZstd(zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))},
	}
	rounds := 3
	type figures struct{ mbps, heap, vsMbps, vsHeap []float64 }
	got := make([]figures, len(variants))
	ratio := make([]float64, len(variants))
	for range b.N {
		for range rounds {
			var oursMbps, oursHeap float64
			for i, v := range variants {
				mbps, heap, stored := zstdRun(b, data, v.run)
				if i == 0 {
					oursMbps, oursHeap = mbps, heap
				}
				f := &got[i]
				f.mbps, f.heap = append(f.mbps, mbps), append(f.heap, heap)
				f.vsMbps, f.vsHeap = append(f.vsMbps, mbps/oursMbps), append(f.vsHeap, heap/oursHeap)
				ratio[i] = float64(len(data)) / float64(stored)
			}
		}
	}
	var rows []string
	for i, v := range variants {
		f := got[i]
		rows = append(rows, fmt.Sprintf("| %s | %.0f MB/s (best) | %.2f× | %.3f | %.1f MB (max) | %.2f× |",
			v.name, slices.Max(f.mbps), median(f.vsMbps), ratio[i], slices.Max(f.heap)/1e6, median(f.vsHeap)))
	}
	fmt.Printf("\nzstd writers, %.0f MB input, %d rounds (each variant back to back; ratios to ours are medians of the rounds' ratios), GOMAXPROCS %d\n\n"+
		"| writer | throughput | vs ours | compression ratio | peak heap | heap vs ours |\n|---|---|---|---|---|---|\n%s\n",
		float64(len(data))/1e6, rounds, runtime.GOMAXPROCS(0), strings.Join(rows, "\n"))
}

// libraryZstd runs klauspost's stream encoder with concurrent blocks on
// the cores ours uses; window 0 is the level's default.
func libraryZstd(window int) func(io.Writer, []byte) error {
	opts := []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithEncoderConcurrency(concurrency()), zstd.WithConcurrentBlocks(true)}
	if window > 0 {
		opts = append(opts, zstd.WithWindowSize(window))
	}
	return streamZstd(opts...)
}

// streamZstd copies the data into a klauspost stream encoder, as a backup
// copied the RDB file in before zstdFrames.
func streamZstd(opts ...zstd.EOption) func(io.Writer, []byte) error {
	return func(w io.Writer, data []byte) error {
		zw, err := zstd.NewWriter(w, opts...)
		if err != nil {
			return err
		}
		if _, err := io.Copy(zw, bytes.NewReader(data)); err != nil {
			zw.Close()
			return err
		}
		return zw.Close()
	}
}

// zstdRun compresses data once with run and returns
// its throughput, the peak heap above the input's (HeapAlloc sampled every
// 2 ms, from a collected heap) and the compressed size.
func zstdRun(b *testing.B, data []byte, run func(io.Writer, []byte) error) (mbps, heap float64, stored int64) {
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var out countingDiscard
	start := time.Now()
	err := run(&out, data)
	took := time.Since(start)
	close(stop)
	<-sampled
	if err != nil {
		b.Fatal(err)
	}
	return float64(len(data)) / 1e6 / took.Seconds(), float64(peak.Load()) - float64(ms0.HeapAlloc), out.n
}

type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// zstdBenchInput is ZSTD_BENCH_FILE's content, or 64 MB generated: runs of
// random bytes (incompressible values), of JSON-like text and of repeated
// counters, interleaved.
func zstdBenchInput(b *testing.B) []byte {
	if p := os.Getenv("ZSTD_BENCH_FILE"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 0, 64<<20)
	for len(data) < 64<<20 {
		switch rng.IntN(4) {
		case 0:
			for range 96 {
				data = append(data, byte(rng.Uint32()))
			}
		case 1:
			data = fmt.Appendf(data, `{"user":%d,"name":"user-%d","tags":["a","b","c"],"score":%d}`, rng.IntN(1e6), rng.IntN(1e4), rng.IntN(100))
		case 2:
			data = fmt.Appendf(data, `{"user":%d,"name":"user-%d","tags":["a","b","c"],"score":%d}`, rng.IntN(1e6), rng.IntN(1e4), rng.IntN(100))
		default:
			data = fmt.Appendf(data, "counter:%08d\x00", rng.IntN(1e5))
		}
	}
	return data
}

func median(s []float64) float64 {
	c := slices.Clone(s)
	slices.Sort(c)
	return c[len(c)/2]
}
