package backup

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestBackupAcrossFlavours takes a backup with each server on PATH
// (redis-server and valkey-server: make matrix's root filesystem has
// Redis 8.0 and Valkey 8.1) and restores it with each other one: where
// the restoring server reads the backup's RDB version every key is back;
// otherwise the restore is refused saying which servers that RDB version
// needs and which one this is, and leaves no data. (Redis 8.0 writes RDB
// 12, which Valkey 8.1 cannot read; Valkey 8.1's RDB 11 restores on Redis
// 8.0.) TestRestoreAcrossVersions does the same with dumps of each server
// kept in testdata, against the local server alone.
func TestBackupAcrossFlavours(t *testing.T) {
	type server struct{ name, bin, check string }
	var servers []server
	for _, f := range []string{"redis", "valkey"} {
		bin, err1 := exec.LookPath(f + "-server")
		check, err2 := exec.LookPath(f + "-check-rdb")
		if err1 == nil && err2 == nil {
			servers = append(servers, server{f, bin, check})
		}
	}
	if len(servers) < 2 {
		t.Skipf("needs redis-server and valkey-server (and their -check-rdb) on PATH, found %d of them: make matrix runs it in Debian 13", len(servers))
	}
	log, _ := testLog(t)
	sup := startSup(t, log)
	for _, from := range servers {
		r := harness.StartRedis(t, harness.RedisOptions{Binary: from.bin, Password: testPassword})
		fill(t, r.Client, 500)
		want := dataset(t, r.Client)
		c := redisnode.Dial(r.Addr, testPassword)
		s := dirStore(t)
		info, err := Backup(testCtx(t, time.Minute), Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd", Log: log})
		c.Close()
		if err != nil {
			t.Fatalf("backup by %s: %v", from.name, err)
		}
		head := make([]byte, 9)
		if f, err := os.Open(filepath.Join(r.Dir, "dump.rdb")); err == nil {
			_, err = f.Read(head)
			f.Close()
		}
		n, _ := strconv.Atoi(string(head[5:]))
		r.Stop()
		for _, to := range servers {
			if to == from {
				continue
			}
			t.Run(from.name+"-to-"+to.name, func(t *testing.T) {
				local, max := serverReads(t, sup, to.bin)
				o := restoreOpts(t, s, log, sup)
				o.Name, o.RedisServerPath, o.CheckRDBPath = info.Name, to.bin, to.check
				_, err := Restore(testCtx(t, time.Minute), o)
				if n <= max {
					if err != nil {
						t.Fatalf("%s reads RDB version %d, yet: %v", local, n, err)
					}
					got := harness.StartRedis(t, harness.RedisOptions{Binary: to.bin, Dir: o.DataDir, Password: testPassword,
						Extra: []string{"appendonly yes"}})
					equalData(t, want, dataset(t, got.Client))
					t.Logf("%s's backup (RDB version %d) restored on %s", from.name, n, local)
					return
				}
				wantMsg := fmt.Sprintf("RDB version %d needs %s; this node runs %s", n, rdbNeeds[n], local)
				if !errors.Is(err, ErrIncompatible) || !strings.Contains(fmt.Sprint(err), wantMsg) {
					t.Fatalf("Restore = %v; want ErrIncompatible saying %q", err, wantMsg)
				}
				if has, _ := redisnode.HasData(o.DataDir); has {
					t.Error("the refused backup left data behind")
				}
				t.Logf("%s's backup refused on %s: %v", from.name, local, err)
			})
		}
	}
}
