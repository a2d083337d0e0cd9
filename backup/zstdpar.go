package backup

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdChunk is the input each zstd frame holds; each chunk costs two
// buffers per core in flight. On bench/'s 100 MB RDB (gzip -6: 1.8303),
// 1 MiB frames compress to 1.8318, 512 KiB frames to 1.8226 and 256 KiB
// frames with a 256 KiB window to 1.8066. Those would save 1.2-2.0 MB and
// 2.6-2.9 MB of `backup now`'s peak RSS, but compress worse than the shell
// version's gzip -6, the default's ratio goal (docs/FIGURES.md).
const zstdChunk = 1 << 20

// zstdWindow is how far back a match may reach within a frame; each
// encoder keeps this much history (plus a block). On bench/'s RDB, 1 MiB
// frames compress to 1.8320 with a 1 MiB window, 1.8317 with 512 KiB and
// 1.8287 with 256 KiB (below gzip -6); 512 KiB saves 1 MB of peak RSS
// against 1 MiB.
const zstdWindow = 512 << 10

// parallelZstd is an io.WriteCloser compressing into w on up to workers
// cores: each zstdChunk of input becomes its own zstd frame (EncodeAll),
// compressed on its own goroutine and written in order, as the zstd CLI's
// -T0 cuts its input into independent jobs. Frames concatenated are one
// valid zstd stream (any zstd decoder reads it).
//
// Why not the library's stream with WithConcurrentBlocks (klauspost
// v1.20.3): it does the same on the same cores, but its jobs are 4 windows
// each with about 4 per core in flight, not configurable, so its memory
// follows its window. BenchmarkZstdWriters (bench/run.sh runs it) prints
// both side by side; on 67 MB of generated data, at the same ratio (1.889
// vs 1.890) the library's 256 KiB window ran at 1.09x our throughput with
// 1.36x our peak heap (20 vs 13 MB), its 512 KiB window 1.27x with 2.14x.
// Measured by hand on bench/'s 100 MB RDB (docs/FIGURES.md):
// at the 256 KiB window that matches our ratio (1.832) its peak heap was
// 21 MB against our 16, at 512 KiB (1.839) 33 MB, at its default window
// 250 MB more RSS; `backup now` must stay within 32 MB. Ours keeps a fixed
// set of buffers, reused: a backup allocates nothing per chunk, so the GC
// has no garbage to let the heap grow on, whatever the dataset's size.
// workers inputs: one fills while the others compress, and the reader
// waits while all compress (reading 1 MiB takes a fraction of compressing
// it); workers outputs: a frame waits in its buffer until those before it
// are written. A spare of each (workers+1) bought no throughput in
// BenchmarkRSSCompare and cost 1.6 MB of peak RSS (docs/FIGURES.md).
type parallelZstd struct {
	w       io.Writer
	enc     *zstd.Encoder
	workers int
	buf     []byte // the chunk being filled

	// ins and outs hold the free input and output buffers; made (up to
	// workers of each) only as the stream needs them.
	ins, outs        chan []byte
	nIn, nOut        int
	queue            chan chan []byte // frames in input order
	done             chan struct{}
	submitted, ended bool

	mu  sync.Mutex
	err error // the first write error
}

func newParallelZstd(w io.Writer, workers int) (*parallelZstd, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithEncoderConcurrency(workers), zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("zstd writer: %w", err)
	}
	z := &parallelZstd{w: w, enc: enc, workers: workers,
		ins: make(chan []byte, workers), outs: make(chan []byte, workers),
		queue: make(chan chan []byte, workers), done: make(chan struct{})}
	go z.writeOut()
	return z, nil
}

// writeOut writes the frames in order; after an error it only drains.
func (z *parallelZstd) writeOut() {
	defer close(z.done)
	for res := range z.queue {
		frame := <-res
		if z.firstErr() == nil {
			if _, err := z.w.Write(frame); err != nil {
				z.setErr(err)
			}
		}
		z.outs <- frame[:0]
	}
}

func (z *parallelZstd) firstErr() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.err
}

func (z *parallelZstd) setErr(err error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.err == nil {
		z.err = err
	}
}

// zstdBound is room for a compressed chunk: zstd never grows data by more
// than a block header per 128 KiB block and a frame header.
const zstdBound = zstdChunk + zstdChunk>>10 + 64

// buffer returns a free buffer of free, making one while fewer than
// workers exist; it waits for one otherwise. Only the writing goroutine
// calls it.
func (z *parallelZstd) buffer(free chan []byte, made *int, size int) []byte {
	select {
	case b := <-free:
		return b
	default:
	}
	if *made < z.workers {
		*made++
		return make([]byte, 0, size)
	}
	return <-free
}

func (z *parallelZstd) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := z.firstErr(); err != nil {
			return n, err
		}
		if z.buf == nil {
			z.buf = z.buffer(z.ins, &z.nIn, zstdChunk)
		}
		k := min(len(p), zstdChunk-len(z.buf))
		z.buf = append(z.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(z.buf) == zstdChunk {
			z.submit()
		}
	}
	return n, nil
}

// ReadFrom reads r straight into the chunk buffers (io.Copy uses it),
// saving a copy.
func (z *parallelZstd) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if err := z.firstErr(); err != nil {
			return total, err
		}
		if z.buf == nil {
			z.buf = z.buffer(z.ins, &z.nIn, zstdChunk)
		}
		n, err := r.Read(z.buf[len(z.buf):zstdChunk])
		z.buf, total = z.buf[:len(z.buf)+n], total+int64(n)
		if len(z.buf) == zstdChunk {
			z.submit()
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// submit compresses the current chunk on its own goroutine. It waits while
// workers frames are pending.
func (z *parallelZstd) submit() {
	in, out := z.buf, z.buffer(z.outs, &z.nOut, zstdBound)
	z.buf, z.submitted = nil, true
	res := make(chan []byte, 1)
	z.queue <- res
	go func() {
		frame := z.enc.EncodeAll(in, out)
		z.ins <- in[:0]
		res <- frame
	}()
}

// Close compresses what is buffered, waits for every frame to be written
// and returns the first error. Calls after the first return it again.
func (z *parallelZstd) Close() error {
	if z.ended {
		return z.firstErr()
	}
	z.ended = true
	if len(z.buf) > 0 || !z.submitted { // an empty input is one empty frame
		if z.buf == nil {
			z.buf = z.buffer(z.ins, &z.nIn, zstdChunk)
		}
		z.submit()
	}
	close(z.queue)
	<-z.done
	z.enc.Close()
	return z.firstErr()
}
