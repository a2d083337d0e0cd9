package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// The RDB files in testdata are real dumps of fill(t, c, fixtureKeys),
// written by the server each is named after (make them again with
// RDB_FIXTURE_DIR=backup/testdata go test -run TestMakeRDBFixture ./backup,
// once per server and flavour).
const fixtureKeys = 40

var fixtures = []string{"rdb10-redis-7.0.15.rdb", "rdb11-valkey-8.1.1.rdb", "rdb12-redis-8.0.2.rdb"}

// reads is the newest RDB version each server this project is tested on
// reads (checked with each: see rdbNeeds).
var reads = map[string]int{"Redis 7.0": 10, "Valkey 8.1": 11, "Redis 8.0": 12}

func TestMakeRDBFixture(t *testing.T) {
	out := os.Getenv("RDB_FIXTURE_DIR")
	if out == "" {
		t.Skip("RDB_FIXTURE_DIR is not set: nothing to make")
	}
	r, c := startRedis(t)
	fill(t, r.Client, fixtureKeys)
	if err := r.Client.Save(testCtx(t, time.Minute)).Err(); err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(testCtx(t, time.Minute), "server")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	f, v := info.ServerVersion()
	name := fmt.Sprintf("rdb%s-%s-%s.rdb", strings.TrimLeft(string(b[5:9]), "0"), f, v)
	if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", name)
}

// TestRestoreAcrossVersions restores a real dump of each tested server on
// the local one: the servers that read its RDB version restore every key;
// the others refuse, saying which servers the RDB version needs and
// which one this is, and never fall back to an older backup. make matrix
// runs it on Redis 8.0 and Valkey 8.1 too.
func TestRestoreAcrossVersions(t *testing.T) {
	log, _ := testLog(t)
	sup := startSup(t, log)
	local, max := testServer(t, sup)
	r, _ := startRedis(t)
	fill(t, r.Client, fixtureKeys)
	want := dataset(t, r.Client)
	for _, fx := range fixtures {
		t.Run(fx, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", fx))
			if err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.Atoi(string(b[5:9]))
			dir := t.TempDir()
			s := dirStoreAt(t, dir)
			putLegacy(t, dir, "dump-20260101000000.rdb.gz", gzipped(t, b))
			o := restoreOpts(t, s, log, sup)
			_, err = Restore(testCtx(t, time.Minute), o)
			if n <= max {
				if err != nil {
					t.Fatalf("%s reads RDB version %d, yet: %v", local, n, err)
				}
				equalData(t, want, startRestored(t, o.DataDir))
				return
			}
			t.Logf("refused: %v", err)
			wantMsg := fmt.Sprintf("RDB version %d needs %s; this node runs %s", n, rdbNeeds[n], local)
			if !errors.Is(err, ErrIncompatible) || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), wantMsg) {
				t.Fatalf("Restore = %v; want ErrIncompatible saying %q", err, wantMsg)
			}
			if has, _ := redisnode.HasData(o.DataDir); has {
				t.Error("the refused backup left data behind")
			}
		})
	}
}

// testServer is the local server ("Redis 7.0.15") and the newest RDB
// version it reads.
func testServer(t *testing.T, sup *supervisor.Supervisor) (string, int) {
	t.Helper()
	return serverReads(t, sup, harness.NeedBinary(t, "redis-server"))
}

// serverReads is the server program's name and version ("Valkey 8.1.1")
// and the newest RDB version it reads.
func serverReads(t *testing.T, sup *supervisor.Supervisor, path string) (string, int) {
	t.Helper()
	res, err := sup.Run(context.Background(), supervisor.Command{Name: "version",
		Path: path, Args: []string{"--version"}, CaptureLimit: 1024})
	if err != nil {
		t.Fatal(err)
	}
	f, v, err := redisnode.ParseVersionOutput(string(res.Output))
	if err != nil {
		t.Fatal(err)
	}
	minor := v
	if i := strings.LastIndexByte(v, '.'); i > 0 {
		minor = v[:i]
	}
	max, ok := reads[f.Title()+" "+minor]
	if !ok {
		t.Fatalf("no RDB version known for %s %s: check which it reads and add it to reads and rdbNeeds", f.Title(), v)
	}
	return f.Title() + " " + v, max
}
