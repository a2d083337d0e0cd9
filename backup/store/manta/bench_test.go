package manta

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/storetest"
	"github.com/joyent/triton-go/storage"
)

const benchSize = 256 << 20

// repeatReader yields n bytes cycling through block, in small writes like
// a compressor's (32 KiB).
type repeatReader struct {
	block []byte
	left  int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 32<<10, int(r.left))], r.block)
	r.left -= int64(n)
	return n, nil
}

// BenchmarkPut: Store.Put (digest, 1 MiB buffered pipe, HEAD, sidecar)
// against the test server over loopback.
func BenchmarkPut(b *testing.B) {
	benchPut(b, func(s *Store, r io.Reader) error { return s.Put(context.Background(), name, r, store.Meta{}) })
}

// BenchmarkRawPut: triton-go's Put of the same stream, the baseline.
func BenchmarkRawPut(b *testing.B) {
	benchPut(b, func(s *Store, r io.Reader) error {
		return s.objects.Put(context.Background(), &storage.PutObjectInput{ObjectPath: s.path(name), ObjectReader: r, ForceInsert: true})
	})
}

func benchPut(b *testing.B, put func(*Store, io.Reader) error) {
	s, _ := newStore(b, nil)
	block := storetest.Data(b, 32<<10)
	b.SetBytes(benchSize)
	for b.Loop() {
		if err := put(s, &repeatReader{block: block, left: benchSize}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutWrites: Store.Put of a stream written through a pipe, as
// backup's upload feeds it, in age's sealed chunks (64 KiB + 16) and in
// zstd frames (about 550 KiB at bench/'s ratio): does a Manta upload cost
// more when its body comes in smaller writes? cpu-s/op is this process's
// CPU (the test server's included).
func BenchmarkPutWrites(b *testing.B) {
	for _, size := range []int{64<<10 + 16, 550 << 10} {
		b.Run(fmt.Sprintf("write=%d", size), func(b *testing.B) {
			s, _ := newStore(b, nil)
			block := storetest.Data(b, size)
			b.SetBytes(benchSize)
			cpu := cpuTime()
			for b.Loop() {
				pr, pw := io.Pipe()
				go func() {
					for n := int64(0); n < benchSize; n += int64(size) {
						if _, err := pw.Write(block[:min(int64(size), benchSize-n)]); err != nil {
							return
						}
					}
					pw.Close()
				}()
				if err := s.Put(context.Background(), name, pr, store.Meta{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
