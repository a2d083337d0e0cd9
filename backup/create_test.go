package backup

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
)

func TestBackupDirStore(t *testing.T) {
	for _, comp := range []string{"zstd", "gzip", ""} {
		t.Run("compression="+comp, func(t *testing.T) {
			r, c := startRedis(t)
			fill(t, r.Client, 500)
			s := dirStore(t)
			log, sink := testLog(t)
			var term bytes.Buffer
			info, err := Backup(testCtx(t, time.Minute), Options{Redis: c, DataDir: r.Dir, Store: s,
				Compression: comp, Log: log, Progress: &term})
			if err != nil {
				t.Fatal(err)
			}
			_, gotComp, err := store.ParseName(info.Name)
			if err != nil || gotComp != comp {
				t.Fatalf("name %s: compression %q, %v", info.Name, gotComp, err)
			}
			if !info.Good() || info.Meta.Compression != comp || info.Meta.SourceRole != "master" ||
				info.Meta.RedisVersion == "" || !strings.HasSuffix(info.Meta.Server, info.Meta.RedisVersion) && !strings.HasPrefix(info.Meta.Server, "Valkey ") {
				t.Fatalf("info %+v meta %+v", info, info.Meta)
			}
			rdb, err := os.ReadFile(filepath.Join(r.Dir, "dump.rdb"))
			if err != nil {
				t.Fatal(err)
			}
			if got := decompressed(t, s, info.Name, comp); !bytes.Equal(got, rdb) {
				t.Fatalf("stored backup decompresses to %d bytes, dump.rdb has %d", len(got), len(rdb))
			}
			if !strings.Contains(term.String(), "upload "+info.Name) {
				t.Errorf("no terminal progress line: %q", term.String())
			}
			if !strings.Contains(sink.String(), "backup complete") {
				t.Error("no completion log line")
			}
		})
	}
}

func decompressed(t *testing.T, s store.Store, name, comp string) []byte {
	t.Helper()
	rc, err := s.Get(testCtx(t, time.Minute), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := decompressor(rc, comp)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
