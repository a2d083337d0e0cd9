package backup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// ErrCompression is wrapped when a compression name is not "", "gzip" or
// "zstd".
var ErrCompression = errors.New("unknown compression")

// concurrency is how many cores a compressor may use: both on the 2-core
// machines the node runs on, never more than GOMAXPROCS.
func concurrency() int { return min(runtime.GOMAXPROCS(0), 2) }

// compressor returns a writer compressing into w with gzip, or none;
// closing it flushes the compressed stream (it does not close w). zstd
// reads its input itself (zstdFrames).
func compressor(w io.Writer, compression string) (io.WriteCloser, error) {
	switch compression {
	case "":
		return nopWriteCloser{w}, nil
	case "gzip":
		zw, err := pgzip.NewWriterLevel(w, pgzip.DefaultCompression)
		if err != nil {
			return nil, fmt.Errorf("gzip writer: %w", err)
		}
		if err := zw.SetConcurrency(1<<20, 2*concurrency()); err != nil {
			return nil, fmt.Errorf("gzip writer: %w", err)
		}
		return zw, nil
	}
	return nil, fmt.Errorf("compress %q: %w", compression, ErrCompression)
}

// maxZstdWindow bounds the window of a zstd frame we decompress, and so
// the decoder's memory: ours ask for zstdWindow (512 KiB); the zstd tool's
// levels up to 19 use at most 8 MiB (only --long and --ultra more).
const maxZstdWindow = 8 << 20

// errZstdWindow explains a refused window.
var errZstdWindow = fmt.Errorf("the zstd window is larger than %d MiB (made with zstd --long or --ultra?): recompress it with zstd -19 or lower", maxZstdWindow>>20)

// decompressor returns a reader of what r holds uncompressed. Close
// releases the decoder (it does not close r).
func decompressor(r io.Reader, compression string) (io.ReadCloser, error) {
	switch compression {
	case "":
		return io.NopCloser(r), nil
	case "gzip":
		// One gzip member after another is valid (gzip -c a b); pgzip
		// reads ahead on its own goroutine.
		zr, err := pgzip.NewReaderN(bufio.NewReaderSize(r, 1<<20), 1<<20, 4)
		if err != nil {
			return nil, fmt.Errorf("gzip header: %w", err)
		}
		return zr, nil
	case "zstd":
		// WithDecoderLowmem halves the speed (measured in bench/). The
		// window is what the decoder keeps in memory: a frame asking for
		// more than maxZstdWindow is refused before it is allocated.
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(concurrency()),
			zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, fmt.Errorf("zstd reader: %w", windowErr(err))
		}
		return zstdReadCloser{zr}, nil
	}
	return nil, fmt.Errorf("decompress %q: %w", compression, ErrCompression)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// zstdReadCloser names a refused window in the decoder's errors.
type zstdReadCloser struct{ d *zstd.Decoder }

func (z zstdReadCloser) Close() error { z.d.Close(); return nil }

func (z zstdReadCloser) Read(p []byte) (int, error) {
	n, err := z.d.Read(p)
	return n, windowErr(err)
}

func (z zstdReadCloser) WriteTo(w io.Writer) (int64, error) {
	n, err := z.d.WriteTo(w)
	return n, windowErr(err)
}

func windowErr(err error) error {
	if errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return fmt.Errorf("%w: %w", errZstdWindow, err)
	}
	return err
}
