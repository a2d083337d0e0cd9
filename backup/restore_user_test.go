package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRestoreUsesUserDirectives: the private redis-server that turns the
// backup into the AOF runs with the user's directives, from
// REDIS_CONFIG_EXTRA and from REDIS_CONFIG_INCLUDE_DIR's files (a module
// named by loadmodule must be loaded to read its keys). Seen here by
// aof-use-rdb-preamble no: the AOF's base file is then an .aof, not the
// node's default .rdb. Before, the private server ran without them.
func TestRestoreUsesUserDirectives(t *testing.T) {
	log, _ := testLog(t)
	s := dirStore(t)
	r, c := startRedis(t)
	fill(t, r.Client, 500)
	want := dataset(t, r.Client)
	info, err := Backup(testCtx(t, time.Minute), Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	r.Stop()
	inc := filepath.Join(t.TempDir(), "50-aof.conf")
	if err := os.WriteFile(inc, []byte("aof-use-rdb-preamble no\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sup := startSup(t, log)
	for _, tc := range []struct {
		name          string
		user, include []string
	}{
		{"REDIS_CONFIG_EXTRA", []string{"aof-use-rdb-preamble no"}, nil},
		{"REDIS_CONFIG_INCLUDE_DIR", nil, []string{inc}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := restoreOpts(t, s, log, sup)
			o.Name, o.User, o.Include, o.UserSets = info.Name, tc.user, tc.include, []string{"aof-use-rdb-preamble"}
			if _, err := Restore(testCtx(t, time.Minute), o); err != nil {
				t.Fatal(err)
			}
			m, err := os.ReadFile(filepath.Join(o.DataDir, aofManifest))
			if err != nil || !strings.Contains(string(m), "appendonly.aof.1.base.aof ") {
				t.Fatalf("the restored AOF's manifest (%v):\n%s\nwant an .aof base: the private redis-server lacked aof-use-rdb-preamble no", err, m)
			}
			equalData(t, want, startRestored(t, o.DataDir))
		})
	}
}
