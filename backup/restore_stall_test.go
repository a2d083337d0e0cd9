package backup

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
)

// A restore whose store stops answering (the backup's GET, or the
// sidecar read that finds it, hangs on Manta) fails within the stall
// timeout with ErrStalled naming the store, the timeout and the step,
// and leaves the data directory empty; once the store answers, the
// restore succeeds. Before, it waited forever, holding the bootstrap
// lock of a node elected first master.
func TestRestoreStalledManta(t *testing.T) {
	log, sink := testLog(t)
	r, c := startRedis(t)
	fill(t, r.Client, 2000)
	want := dataset(t, r.Client)
	sup := startSup(t, log)
	cases := []struct {
		name, step string
		faults     func(data string) []mantaserver.Fault
	}{
		{"download", "download", func(data string) []mantaserver.Fault {
			// Stat reads the sidecar, whose path starts with the data's:
			// a fast Slow fault lets those GETs through.
			return []mantaserver.Fault{
				{Method: "GET", PathPrefix: data + store.SidecarSuffix, Kind: mantaserver.Slow, Rate: 1 << 30},
				{Method: "GET", PathPrefix: data, Kind: mantaserver.Stall},
			}
		}},
		{"sidecar", "stat", func(data string) []mantaserver.Fault {
			return []mantaserver.Fault{{Method: "GET", PathPrefix: data + store.SidecarSuffix, Kind: mantaserver.Stall}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, srv, _ := mantaStore(t, log, sink)
			info, err := Backup(testCtx(t, time.Minute), Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd", Log: log})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.faults("/" + srv.Account + "/stor/redis-backups/" + info.Name) {
				srv.Inject(f)
			}
			o := restoreOpts(t, s, log, sup)
			o.KV, o.StallTimeout = mapKV{"service/redis/last-backup": info.Name}, testStallTimeout
			start := time.Now()
			_, err = Restore(testCtx(t, time.Minute), o)
			took := time.Since(start)
			if !errors.Is(err, ErrStalled) {
				t.Fatalf("Restore from a stalled store = %v, want ErrStalled", err)
			}
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
			for _, want := range []string{fmt.Sprint(s), "no progress for 2s (BACKUP_STALL_TIMEOUT)",
				"the restore was abandoned", tc.step + " " + info.Name} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the stall error does not say %q", want)
				}
			}
			if took > testStallTimeout+stallSlack {
				t.Errorf("the stalled restore returned after %v; stall timeout %v", took, testStallTimeout)
			}
			if entries, _ := os.ReadDir(o.DataDir); len(entries) != 0 {
				t.Errorf("the stalled restore left %v in the data directory", entries)
			}
			srv.ClearFaults()
			if _, err := Restore(testCtx(t, time.Minute), o); err != nil {
				t.Fatalf("restore once the store answers: %v", err)
			}
			equalData(t, want, startRestored(t, o.DataDir))
		})
	}
}
