package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/backup/store/manta"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
	"github.com/hashicorp/go-hclog"
)

// uploadRounds is how many plain and encrypted pairs
// BenchmarkUploadEncrypted runs per store.
const uploadRounds = 9

// BenchmarkUploadEncrypted runs Backup's upload phase alone (read the
// RDB, zstd, age or not, the store's Put with its sha256, HEAD and
// sidecar) on the same input into the directory store and the Manta test
// server: per store, uploadRounds rounds of a plain and an encrypted upload
// back to back, their order swapped every round. It prints the median
// throughput and CPU time (this process's, the Manta test server's
// included) of each, and the median, lowest and highest of the rounds'
// encrypted over plain ratios: with no redis and no read-back it isolates
// what encryption adds to an upload, on a loaded machine through the CPU
// figure. Input: ZSTD_BENCH_FILE (bench/'s RDB), or 64 MB generated.
// Run once: go test -run '^$' -bench UploadEncrypted -benchtime 1x ./backup
func BenchmarkUploadEncrypted(b *testing.B) {
	data := zstdBenchInput(b)
	dataDir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, DefaultDBFilename), data, 0o600); err != nil {
		b.Fatal(err)
	}
	keys := testKeys(b, newIdentity(b).String())
	stores := []struct {
		name string
		s    store.Store
	}{{"dir", benchDirStore(b)}, {"manta", benchMantaStore(b)}}
	var rows []string
	for range b.N {
		for _, st := range stores {
			rows = append(rows, uploadPairs(b, st.name, st.s, dataDir, keys)...)
		}
	}
	fmt.Printf("\nupload phase, %.0f MB input, %d rounds per store, plain and encrypted back to back (order swapped each round)\n\n"+
		"| store | what | plain | encrypted | encrypted vs plain: median (lowest-highest) |\n|---|---|---|---|---|\n%s\n",
		float64(len(data))/1e6, uploadRounds, strings.Join(rows, "\n"))
}

// uploadPairs runs the rounds into s and returns the table's rows.
func uploadPairs(b *testing.B, name string, s store.Store, dataDir string, keys *crypt.Keys) []string {
	var mbps, cpu [2][]float64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for round := range uploadRounds {
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, enc := range order {
			o := Options{Store: s, DataDir: dataDir, DBFilename: DefaultDBFilename, Compression: "zstd",
				Log: hclog.NewNullLogger(), StallTimeout: DefaultStallTimeout}
			backupName, _ := store.Name(base.Add(time.Duration(2*round+enc)*time.Second), "zstd")
			if enc == 1 {
				o.Encryption, backupName = keys, backupName+store.EncryptedSuffix
			}
			var st Stats
			c := processCPU()
			if err := upload(context.Background(), o, o.Log, backupName, store.Meta{Compression: "zstd"}, &st); err != nil {
				b.Fatal(err)
			}
			cpu[enc] = append(cpu[enc], (processCPU() - c).Seconds())
			mbps[enc] = append(mbps[enc], float64(st.RDBBytes)/1e6/st.Upload.Seconds())
			if err := s.Delete(context.Background(), backupName); err != nil {
				b.Fatal(err)
			}
		}
	}
	return []string{
		fmt.Sprintf("| %s | throughput | %.0f MB/s | %.0f MB/s | %s |", name, median(mbps[0]), median(mbps[1]), pairRatios(mbps[1], mbps[0])),
		fmt.Sprintf("| %s | CPU time | %.2f s | %.2f s | %s |", name, median(cpu[0]), median(cpu[1]), pairRatios(cpu[1], cpu[0])),
	}
}

// pairRatios is the median, lowest and highest of a[i]/b[i].
func pairRatios(a, b []float64) string {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	return fmt.Sprintf("%.3f× (%.2f-%.2f)", median(r), slices.Min(r), slices.Max(r))
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchDirStore(b *testing.B) store.Store {
	s, err := dir.New(dir.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchMantaStore(b *testing.B) store.Store {
	srv := mantaserver.New(b, mantaserver.Options{})
	key, fp, _ := srv.NewKey(b)
	s, err := manta.New(manta.Options{URL: srv.URL, User: srv.Account, KeyID: fp, Signer: key,
		Bucket: "/" + srv.Account + "/stor/bench"})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
