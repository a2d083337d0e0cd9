package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/hashicorp/go-hclog"
)

var (
	encStores        = flag.String("enc-stores", "dir,manta,s3", "stores BenchmarkEncrypted compares plain and encrypted backups in, comma-separated")
	encRounds        = flag.Int("enc-rounds", 9, "rounds of BenchmarkEncrypted (each: plain and encrypted back to back, per store)")
	encRestoreRounds = flag.Int("enc-restore-rounds", 3, "rounds of BenchmarkEncrypted's restores (a restore takes several times a backup)")
	encProfile       = flag.String("enc-cpuprofile", "", "BenchmarkEncrypted: write a CPU profile of each backup to PREFIX-STORE-MODE-ROUND.pprof (merge them with go tool pprof)")
)

// BenchmarkEncrypted compares, per store, the zstd backup encrypted (age
// X25519) with the plain one: -enc-rounds rounds, each running the two
// back to back, the plain one first in the first round and the order
// swapped every round (a load that drifts within a round favours
// neither); then -enc-restore-rounds restores of the last two backups the
// same way. Beside the wall-clock figures it measures the CPU time the
// process spends on each upload and read-back (cpuStore), which the load
// of a shared machine moves far less. It prints every round's pair, and
// the median, lowest and highest of the rounds' ratios. Run it once:
// go test -run '^$' -bench Encrypted -benchtime 1x ./bench [-enc-stores manta] [-enc-rounds 9]
func BenchmarkEncrypted(b *testing.B) {
	for range b.N {
		runEncrypted(b)
	}
}

// encPair is one store's figures, index 0 plain, 1 encrypted, one entry
// per round.
type encPair struct {
	mbps, verify, restore [2]series
	// perCPU: MB of RDB uploaded per CPU-second of this process during
	// the upload; readCPU: CPU-seconds of the verifying read-back.
	perCPU, readCPU [2]series
	names           [2]string
}

// cpuStore measures the CPU time (user and system) this process spends
// during each Put, and from each Get until its reader is closed: all
// goroutines, so the compressor, age, the store's client and, for Manta,
// the test server in this process (versitygw is another process). On a
// loaded machine the wall-clock figures follow the share of the cores the
// process gets; the CPU it spends does not.
type cpuStore struct {
	store.Store
	put, get time.Duration // of the last Put and Get
}

func (s *cpuStore) Put(ctx context.Context, name string, r io.Reader, meta store.Meta) error {
	t := cpuTime()
	err := s.Store.Put(ctx, name, r, meta)
	s.put = cpuTime() - t
	return err
}

func (s *cpuStore) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	t := cpuTime()
	rc, err := s.Store.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return cpuReader{rc, func() { s.get = cpuTime() - t }}, nil
}

type cpuReader struct {
	io.ReadCloser
	done func()
}

func (r cpuReader) Close() error { r.done(); return r.ReadCloser.Close() }

func runEncrypted(b *testing.B) {
	log := hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Warn, Output: os.Stderr})
	rep := &report{}
	startLoad := loadavg()
	r, rdb := loadDataset(b, rep, *datasetMB)
	c := redisnode.Dial(r.Addr, "")
	defer c.Close()
	keys, _ := benchKeys(b)
	names := strings.Split(*encStores, ",")
	stores, pairs := map[string]*cpuStore{}, map[string]*encPair{}
	for _, n := range names {
		switch n {
		case "dir":
			stores[n] = &cpuStore{Store: dirStore(b)}
		case "manta":
			stores[n] = &cpuStore{Store: mantaStore(b, log)}
		case "s3":
			stores[n] = &cpuStore{Store: s3Store(b, log)}
		default:
			b.Fatalf("-enc-stores: %q is not dir, manta or s3", n)
		}
		pairs[n] = &encPair{}
	}
	for round := range max(*encRounds, 1) {
		for _, n := range names {
			for _, enc := range encOrder(round) {
				encBackup(b, log, c, r.Dir, stores[n], n, keys, enc, round, pairs[n])
			}
		}
	}
	encRestores(b, log, stores, names, pairs, keys)
	for _, n := range names {
		encReport(rep, n, pairs[n])
	}
	fmt.Printf("\nRDB %.0f MB; %d rounds; plain and encrypted (zstd, age X25519) back to back in each round, their order swapped every round; load average %s at start, %s at end\n\n| what | figure | ratio | notes |\n|---|---|---|---|\n%s\n",
		float64(fileSize(b, rdb))/1e6, max(*encRounds, 1), startLoad, loadavg(), strings.Join(rep.lines, "\n"))
}

// encOrder is the order of a round's two runs: plain (0) first in even
// rounds (the first is round 0), encrypted (1) first in odd ones.
func encOrder(round int) []int {
	if round%2 == 0 {
		return []int{0, 1}
	}
	return []int{1, 0}
}

// encBackup takes one zstd backup into s, encrypted when enc is 1, and
// records its upload throughput and read-back time in p.
func encBackup(b *testing.B, log hclog.Logger, c *redisnode.Client, dataDir string, s *cpuStore, storeName string,
	keys *crypt.Keys, enc, round int, p *encPair) {
	time.Sleep(time.Second) // backup names have second resolution
	var st backup.Stats
	opt := backup.Options{Redis: c, DataDir: dataDir, Store: s, Compression: "zstd", Log: log, Stats: &st}
	if enc == 1 {
		opt.Encryption = keys
	}
	if *encProfile != "" {
		f, err := os.Create(fmt.Sprintf("%s-%s-%s-%d.pprof", *encProfile, storeName, []string{"plain", "age"}[enc], round))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	info, err := backup.Backup(context.Background(), opt)
	if err != nil {
		b.Fatal(err)
	}
	p.names[enc] = info.Name
	p.mbps[enc] = append(p.mbps[enc], mbps(st.RDBBytes, st.Upload))
	p.verify[enc] = append(p.verify[enc], st.Verify.Seconds())
	p.perCPU[enc] = append(p.perCPU[enc], float64(st.RDBBytes)/1e6/s.put.Seconds())
	p.readCPU[enc] = append(p.readCPU[enc], s.get.Seconds())
}

// encRestores restores each store's last plain and encrypted backups,
// -enc-restore-rounds rounds, the order swapped every round.
func encRestores(b *testing.B, log hclog.Logger, stores map[string]*cpuStore, names []string, pairs map[string]*encPair, keys *crypt.Keys) {
	sup, stop := startSup(b, log)
	defer stop()
	for round := range max(*encRestoreRounds, 1) {
		for _, n := range names {
			p := pairs[n]
			for _, enc := range encOrder(round) {
				p.restore[enc] = append(p.restore[enc], restoreOnce(b, sup, log, stores[n], p.names[enc], keys).Seconds())
			}
		}
	}
}

// restoreOnce restores backup name from s into a fresh directory and
// returns how long backup.Restore took.
func restoreOnce(b *testing.B, sup *supervisor.Supervisor, log hclog.Logger, s store.Store, name string, keys *crypt.Keys) time.Duration {
	d := harness.TempDir(b, "rst")
	defer os.RemoveAll(d)
	start := time.Now()
	if _, err := backup.Restore(context.Background(), backup.RestoreOptions{Store: s, Name: name,
		DataDir: d, Sup: sup, Log: log, RedisServerPath: harness.NeedBinary(b, "redis-server"),
		CheckRDBPath: harness.NeedBinary(b, "redis-check-rdb"), Encryption: keys}); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// encReport adds a store's rounds and ratios to rep.
func encReport(rep *report, name string, p *encPair) {
	var pairs []string
	for i := range p.mbps[0] {
		pairs = append(pairs, fmt.Sprintf("%.0f/%.0f", p.mbps[1][i], p.mbps[0][i]))
	}
	up, rst, ver := ratios(p.mbps[1], p.mbps[0]), ratios(p.restore[1], p.restore[0]), ratios(p.verify[1], p.verify[0])
	rep.add("| %s: backup throughput, encrypted vs plain | %.0f vs %.0f MB/s (median) | %s | rounds, encrypted/plain MB/s: %s |",
		name, p.mbps[1].median(), p.mbps[0].median(), up, strings.Join(pairs, ", "))
	rep.add("| %s: backup, MB of RDB per CPU-second of the upload, encrypted vs plain | %.0f vs %.0f (median) | %s | CPU of this process |",
		name, p.perCPU[1].median(), p.perCPU[0].median(), ratios(p.perCPU[1], p.perCPU[0]))
	rep.add("| %s: verify read-back CPU, encrypted vs plain | %.2f vs %.2f s (median) | %s | CPU of this process |",
		name, p.readCPU[1].median(), p.readCPU[0].median(), ratios(p.readCPU[1], p.readCPU[0]))
	rep.add("| %s: verify read-back time, encrypted vs plain | %.2f vs %.2f s (median) | %s | |", name, p.verify[1].median(), p.verify[0].median(), ver)
	rep.add("| %s: restore time, encrypted vs plain | %.1f vs %.1f s (median) | %s | |", name, p.restore[1].median(), p.restore[0].median(), rst)
}

// ratios describes a[i]/b[i] over the rounds: median, lowest and highest.
func ratios(a, b series) string {
	var r series
	for i := range min(len(a), len(b)) {
		r = append(r, a[i]/b[i])
	}
	if len(r) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f× (%.2f-%.2f)", r.median(), slices.Min(r), r.best())
}
