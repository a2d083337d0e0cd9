package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/storetest"
)

// zstdBomb returns one zstd frame declaring a window of 1<<windowLog
// bytes that decompresses to "REDIS0011" followed by out bytes of 'A':
// a raw block, then RLE blocks of 128 KiB, 4 bytes each.
func zstdBomb(windowLog int, out int64) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x28, 0xb5, 0x2f, 0xfd}) // magic
	b.WriteByte(0)                          // no content size, checksum or dictionary; not single-segment
	b.WriteByte(byte(windowLog-10) << 3)    // window descriptor: exponent, mantissa 0
	block := func(last bool, typ, size int, content []byte) {
		h := uint32(size)<<3 | uint32(typ)<<1
		if last {
			h |= 1
		}
		b.Write([]byte{byte(h), byte(h >> 8), byte(h >> 16)})
		b.Write(content)
	}
	block(false, 0, 9, []byte("REDIS0011"))
	const rle = 128 << 10
	for left := out; left > 0; left -= rle {
		block(left <= rle, 1, int(min(left, rle)), []byte{'A'})
	}
	return b.Bytes()
}

// usage is what a function cost the test process: the growth of its peak
// resident memory (VmHWM, reset before) and the bytes it wrote (wchar).
type usage struct{ peakRSS, written int64 }

func procField(t *testing.T, file, key string) int64 {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(v, "kB") {
				n <<= 10
			}
			return n
		}
	}
	t.Fatalf("no %s in %s", key, file)
	return 0
}

func measure(t *testing.T, f func()) usage {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS here: %v", err)
	}
	rss, wchar := procField(t, "/proc/self/status", "VmRSS"), procField(t, "/proc/self/io", "wchar")
	f()
	return usage{procField(t, "/proc/self/status", "VmHWM") - rss, procField(t, "/proc/self/io", "wchar") - wchar}
}

// maxRestoreRSS is how much a restore may grow the process's peak RSS,
// whatever the backup: the zstd window (8 MiB at most), the decoder's
// blocks in flight, the 1 MiB copy buffers. The bombs below reached
// 530 MiB before the bounds.
const maxRestoreRSS = 64 << 20

// Decompression bombs are refused through the real restore path, with
// bounded memory and without writing more than the bound allows; the
// data directory is left empty. Each case is a backup someone with write
// access to the store could leave there.
func TestRestoreRefusesBombs(t *testing.T) {
	log, _ := testLog(t)
	sup := startSup(t, log)
	const huge = 600 << 20
	wideBomb, narrowBomb := zstdBomb(29, huge), zstdBomb(20, huge) // 512 MiB and 1 MiB windows
	cases := []struct {
		name, file string
		data       []byte
		meta       *store.Meta // nil: a legacy backup without a sidecar
		want       string
		maxWritten int64
	}{
		{"wrong sha256", "dump-20261121193000.rdb.zst", wideBomb,
			&store.Meta{Size: int64(len(wideBomb)), SHA256: strings.Repeat("ab", 32), Compression: "zstd", RDBSize: 4 << 20},
			"sha256", 2 << 20},
		{"forged sidecar, 512 MiB window", "dump-20261121193000.rdb.zst", wideBomb,
			&store.Meta{Size: int64(len(wideBomb)), SHA256: storetest.SHA256(wideBomb), Compression: "zstd", RDBSize: huge + 9},
			"zstd window is larger than 8 MiB", 2 << 20},
		{"forged sidecar, more than rdb_size", "dump-20261121193000.rdb.zst", narrowBomb,
			&store.Meta{Size: int64(len(narrowBomb)), SHA256: storetest.SHA256(narrowBomb), Compression: "zstd", RDBSize: 4 << 20},
			"decompresses to more than 4194304 bytes", 8 << 20},
		{"legacy, 512 MiB window", "dump-20200101000000.rdb.zst", wideBomb, nil,
			"zstd window is larger than 8 MiB", 2 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir()
			s := dirStoreAt(t, path)
			putLegacy(t, path, tc.file, tc.data)
			if tc.meta != nil {
				tc.meta.Created = time.Now()
				if err := os.WriteFile(filepath.Join(path, tc.file+store.SidecarSuffix), store.EncodeMeta(*tc.meta), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			o := restoreOpts(t, s, log, sup)
			o.Name = tc.file
			var err error
			u := measure(t, func() { _, err = Restore(testCtx(t, time.Minute), o) })
			checkBombRefused(t, err, o.DataDir, tc.file, tc.want)
			t.Logf("peak RSS +%d KiB, wrote %d KiB: %v", u.peakRSS>>10, u.written>>10, err)
			if u.peakRSS > maxRestoreRSS {
				t.Errorf("the restore grew the peak RSS by %d MiB, more than %d MiB", u.peakRSS>>20, maxRestoreRSS>>20)
			}
			if u.written > tc.maxWritten {
				t.Errorf("the restore wrote %d KiB, more than %d KiB", u.written>>10, tc.maxWritten>>10)
			}
		})
	}
}

// checkBombRefused checks the restore failed as corrupt, naming the
// backup and what was wrong, and left the data directory empty.
func checkBombRefused(t *testing.T, err error, dataDir, file, want string) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Restore = %v; want ErrCorrupt naming %s and %q", err, file, want)
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
		t.Errorf("the refused restore left %v in the data directory", entries)
	}
}

// A legacy backup (no sidecar, so no recorded size) may decompress to at
// most half the free space of the data directory's filesystem: on a
// 64 MiB filesystem a 600 MiB bomb stops at about 30 MiB, without filling
// the disk.
func TestRestoreLegacyBombBoundedByFreeSpace(t *testing.T) {
	mnt, _ := frozenFS(t) // a small filesystem of its own; never frozen here
	log, _ := testLog(t)
	path := t.TempDir()
	s := dirStoreAt(t, path)
	file := "dump-20200101000000.rdb.zst"
	putLegacy(t, path, file, zstdBomb(20, 600<<20))
	o := restoreOpts(t, s, log, nil)
	o.Name, o.DataDir = file, filepath.Join(mnt, "data")
	var err error
	u := measure(t, func() { _, err = Restore(testCtx(t, time.Minute), o) })
	checkBombRefused(t, err, o.DataDir, file, "half the free space of "+o.DataDir)
	t.Logf("peak RSS +%d KiB, wrote %d KiB: %v", u.peakRSS>>10, u.written>>10, err)
	if u.written > 40<<20 {
		t.Errorf("the restore wrote %d MiB into a 64 MiB filesystem", u.written>>20)
	}
	if u.peakRSS > maxRestoreRSS {
		t.Errorf("the restore grew the peak RSS by %d MiB, more than %d MiB", u.peakRSS>>20, maxRestoreRSS>>20)
	}
}

// A backup records the size of its RDB, and a restore checks it.
func TestBackupRecordsRDBSize(t *testing.T) {
	log, _ := testLog(t)
	r, path, s, info := backupToDir(t, log, 1000)
	fi, err := os.Stat(filepath.Join(r.Dir, DefaultDBFilename))
	if err != nil {
		t.Fatal(err)
	}
	if info.Meta.RDBSize != fi.Size() {
		t.Fatalf("sidecar rdb_size %d, dump.rdb has %d bytes", info.Meta.RDBSize, fi.Size())
	}
	m := *info.Meta
	m.RDBSize--
	if err := os.WriteFile(filepath.Join(path, info.Name+store.SidecarSuffix), store.EncodeMeta(m), 0o600); err != nil {
		t.Fatal(err)
	}
	o := restoreOpts(t, s, log, nil)
	o.Name = info.Name
	_, err = Restore(testCtx(t, time.Minute), o)
	checkBombRefused(t, err, o.DataDir, info.Name, fmt.Sprintf("more than %d bytes", m.RDBSize))
}
