package backup

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdChunk is the input each zstd frame holds; a worker waiting for its
// turn collects its frame in a spare buffer of zstdBound. On bench/'s
// 100 MB RDB (gzip -6: 1.8303), 1 MiB frames compress to 1.8318, 512 KiB
// frames to 1.8226 and 256 KiB frames with a 256 KiB window to 1.8066.
// Those saved 1.2-2.0 MB and 2.6-2.9 MB of `backup now`'s peak RSS with
// an earlier writer, but compress worse than the shell version's gzip -6,
// the default's ratio goal (docs/FIGURES.md).
const zstdChunk = 1 << 20

// zstdWindow is how far back a match may reach within a frame; each
// encoder keeps this much history (plus a block). On bench/'s RDB, 1 MiB
// frames compress to 1.8320 with a 1 MiB window, 1.8317 with 512 KiB and
// 1.8287 with 256 KiB (below gzip -6); 512 KiB saves 1 MB of peak RSS
// against 1 MiB.
const zstdWindow = 512 << 10

// zstdFrames compresses the size bytes at the start of src into w as one
// zstd frame per zstdChunk of input, on up to workers cores, as the zstd
// CLI's -T0 cuts its input into independent jobs. Frames concatenated are
// one valid zstd stream (any zstd decoder reads it). read is told each
// piece read from src (the backup's progress).
//
// Each worker owns a stream encoder and compresses chunk k, k+workers, ...
// which the encoder reads from src straight into its block buffer
// (ReaderAt: the snapshot is a file), so no chunk is held whole in memory.
// The turn passes from worker to worker in input order: the worker that
// holds it writes its frame straight into w, the others collect theirs in
// spare buffers (one for two workers) until the turn comes (frameOut). A
// backup allocates nothing per chunk, so the GC has no garbage to let the
// heap grow on, whatever the dataset's size. An earlier writer filled a
// 1 MiB input buffer per worker from an io.Reader and compressed it with
// EncodeAll into a 1 MiB output buffer per worker: frames of the same
// size and window (its output differed by a few hundred bytes in 54 MB),
// and 2.5-4.1 MB more peak RSS of `backup now`, which must stay within
// 32 MB; this one uploads at 0.81-0.85x its throughput (docs/FIGURES.md,
// "stream encoders reading the snapshot").
//
// Why not the library's stream with WithConcurrentBlocks (klauspost
// v1.20.3): it does the same on the same cores, but its jobs are 4 windows
// each with about 4 per core in flight, not configurable, so its memory
// follows its window. BenchmarkZstdWriters (bench/run.sh runs it) prints
// both side by side; on 67 MB of generated data into io.Discard, at the
// same ratio (1.889 vs 1.890) the library's 256 KiB window ran at 1.30x
// our throughput with 2.56x our peak heap (20.1 vs 7.0 MB), its 512 KiB
// window 1.38x with 4.02x, its default window 0.34x with 227 MB. With the
// binary's own pages at 18.5 MB, 20 MB of heap would put `backup now`
// far past its 32 MB (docs/FIGURES.md).
func zstdFrames(w io.Writer, src io.ReaderAt, size int64, workers int, read func(int)) error {
	chunks := max((size+zstdChunk-1)/zstdChunk, 1) // an empty input is one empty frame
	workers = int(min(int64(max(workers, 1)), chunks))
	encs := make([]*zstd.Encoder, workers)
	for k := range encs {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return fmt.Errorf("zstd writer: %w", err)
		}
		encs[k] = enc
	}
	turns := make([]chan struct{}, workers)
	for k := range turns {
		turns[k] = make(chan struct{}, 1)
	}
	turns[0] <- struct{}{}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	// workers-1 spare buffers, made when first needed: the worker that
	// holds the turn writes straight into w, each other one collects its
	// frame in a spare until the turn comes.
	spares := make(chan []byte, workers-1)
	for range workers - 1 {
		spares <- nil
	}
	for k, enc := range encs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := &chunkReader{src: src, read: read}
			out := &frameOut{w: w, turn: turns[k], spares: spares, failed: failed}
			// After an error every worker still takes and passes its turns
			// (doing nothing), so none waits forever.
			for i := int64(k); i < chunks; i += int64(workers) {
				if !failed() {
					in.off, in.end = i*zstdChunk, min((i+1)*zstdChunk, size)
					if err := encodeFrame(enc, out, in); err != nil {
						fail(err)
					}
				}
				if err := out.finish(); err != nil {
					fail(err)
				}
				turns[(k+1)%workers] <- struct{}{}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// zstdBlock is a zstd block's most input.
const zstdBlock = 128 << 10

// zstdBound is room for a compressed chunk: zstd never grows data by more
// than a block header per 128 KiB block and a frame header.
const zstdBound = zstdChunk + zstdChunk>>10 + 64

// encodeFrame compresses what in holds into one frame written to out. The
// encoder reads in straight into its block buffer (Encoder.ReadFrom).
func encodeFrame(enc *zstd.Encoder, out *frameOut, in *chunkReader) error {
	enc.ResetContentSize(out, in.end-in.off)
	if _, err := enc.ReadFrom(in); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	return nil
}

// chunkReader reads bytes off to end of src and tells read each piece;
// each worker reuses one.
type chunkReader struct {
	src      io.ReaderAt
	off, end int64
	read     func(int)
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.off >= c.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), c.end-c.off)]
	n, err := c.src.ReadAt(p, c.off)
	c.off += int64(n)
	c.read(n)
	switch {
	case n == len(p):
		return n, nil
	case err == io.EOF:
		return n, fmt.Errorf("read the snapshot: it ends at byte %d, before its size: %w", c.off, io.ErrUnexpectedEOF)
	default:
		return n, fmt.Errorf("read the snapshot at byte %d: %w", c.off, err)
	}
}

// frameOut is where a worker's encoder writes a frame: straight to w
// while the worker holds the turn (it takes it as soon as it is passed,
// at the encoder's next write), into a spare buffer before that. With
// two workers one spare is enough, a 1 MiB buffer less than one per
// worker (docs/FIGURES.md). Spares are made at their full size: growing
// them a block at a time left 2 MB of garbage early in the backup and
// measured 1-2 MB higher.
type frameOut struct {
	w      io.Writer
	turn   chan struct{}
	spares chan []byte
	failed func() bool
	held   bool   // this worker holds the turn
	buf    []byte // the spare collecting the frame, when not held
}

// errOtherFailed stops an encoder once another worker has failed.
var errOtherFailed = errors.New("another worker failed")

func (o *frameOut) Write(p []byte) (int, error) {
	if !o.held {
		select {
		case <-o.turn:
			o.held = true
			if err := o.flush(); err != nil {
				return 0, err
			}
		default:
		}
	}
	if o.failed() {
		return 0, errOtherFailed
	}
	if !o.held && o.buf == nil {
		// A spare is free once its holder has taken the turn and flushed;
		// the turn may come first (with more than two workers, the spares
		// may all be held by later frames).
		select {
		case o.buf = <-o.spares:
			if o.buf == nil {
				o.buf = make([]byte, 0, zstdBound)
			}
		case <-o.turn:
			o.held = true
		}
	}
	if o.held {
		return o.w.Write(p)
	}
	o.buf = append(o.buf, p...)
	return len(p), nil
}

// flush writes what the spare holds, unless a worker failed, and hands
// the spare back.
func (o *frameOut) flush() error {
	if o.buf == nil {
		return nil
	}
	var err error
	if !o.failed() {
		_, err = o.w.Write(o.buf)
	}
	o.spares <- o.buf[:0]
	o.buf = nil
	return err
}

// finish ends the worker's frame: it waits for the turn if it does not
// hold it, writes what it collected, and leaves the turn to be passed on.
func (o *frameOut) finish() error {
	if !o.held {
		<-o.turn
	}
	o.held = false
	return o.flush()
}
