package manta

import (
	"context"
	"io"
	"testing"

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
