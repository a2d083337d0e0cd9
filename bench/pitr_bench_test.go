package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/hashicorp/go-hclog"
)

var pitrAOFMB = flag.Int("pitr-aof-mb", 100, "MB of AOF behind the base in the point-in-time restore benchmark (1024 for the issue's 1 GiB)")

// BenchmarkPITR measures point-in-time shipping and restore against
// baselines of the same run, and prints ratios. Run it once:
// go test -run '^$' -bench PITR -benchtime 1x ./bench [-pitr-aof-mb 1024]
func BenchmarkPITR(b *testing.B) {
	for range b.N {
		log := hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Warn, Output: os.Stderr})
		rep := &report{}
		startLoad := loadavg()
		writeThroughput(b, rep, log)
		for name, st := range map[string]store.Store{"dir": dirStore(b), "s3": s3Store(b, log)} {
			durableLatency(b, rep, log, name, st)
		}
		shipAndRestore(b, rep, log)
		fmt.Printf("\npoint-in-time recovery (load average %s at start, %s at end)\n", startLoad, loadavg())
		for _, l := range rep.lines {
			fmt.Println("  " + l)
		}
	}
}

// aofRedis starts a redis as the node runs it with PITR (appendonly,
// everysec).
func aofRedis(b *testing.B) *harness.Redis {
	return harness.StartRedis(b, harness.RedisOptions{Extra: []string{"appendonly yes", "appendfsync everysec",
		`appenddirname "appendonlydir"`, `appendfilename "appendonly.aof"`, "auto-aof-rewrite-percentage 0"}})
}

func chainStore(b *testing.B, st store.Store) *pitr.ChainStore {
	cs, err := pitr.NewChainStore(st, nil)
	if err != nil {
		b.Fatal(err)
	}
	return cs
}

// shipper ships r's AOF into st until stop.
func shipper(b *testing.B, log hclog.Logger, r *harness.Redis, st store.Store) (sh *pitr.Shipper, stop func()) {
	c := redisnode.Dial(r.Addr, "")
	sh, err := pitr.NewShipper(pitr.ShipperOptions{Node: pitr.RedisNode{C: c}, DataDir: r.Dir, Store: chainStore(b, st),
		Holder: r.Addr, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sh.Run(ctx) }()
	harness.Eventually(b, time.Minute, func() error {
		if _, ok := sh.Status(); !ok {
			return fmt.Errorf("no chain yet")
		}
		return nil
	})
	return sh, func() { cancel(); <-done; c.Close() }
}

var rpsRE = regexp.MustCompile(`SET: ([0-9.]+) requests per second`)

// setRate runs redis-benchmark SET (100-byte values, 50 clients,
// pipelines of 16) and returns requests per second. It first writes the
// disk's dirty pages (sync): the writeback of what came before (a chain's
// start rewrites the AOF and stores the base) is not charged to it.
func setRate(b *testing.B, r *harness.Redis, n int) float64 {
	syscall.Sync()
	out, err := exec.Command("redis-benchmark", "-p", strconv.Itoa(r.Port), "-t", "set", "-n", strconv.Itoa(n),
		"-d", "100", "-c", "50", "-P", "16", "-r", "1000000", "-q").CombinedOutput()
	m := rpsRE.FindSubmatch(out)
	if err != nil || m == nil {
		b.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func aofBytes(b *testing.B, r *harness.Redis) int64 {
	info, err := r.Client.Info(context.Background(), "persistence").Result()
	if err != nil {
		b.Fatal(err)
	}
	v, _ := strconv.ParseInt(redisnode.ParseInfo(info)["aof_current_size"], 10, 64)
	return v
}

// writeThroughput: SET throughput on a master with a replica, as a
// cluster runs: without PITR (no #TS, no shipper) against with it (#TS on
// both, the replica shipping, as the node prefers, into a directory
// store), and with the master itself shipping (a master alone), in
// alternating rounds; and the master's AOF write rate while shipping.
func writeThroughput(b *testing.B, rep *report, log hclog.Logger) {
	r := aofRedis(b)
	replica := harness.StartRedis(b, harness.RedisOptions{ReplicaOf: r.Addr, Extra: []string{"appendonly yes",
		"appendfsync everysec", `appenddirname "appendonlydir"`, `appendfilename "appendonly.aof"`, "auto-aof-rewrite-percentage 0"}})
	stamps := func(on string) {
		for _, x := range []*harness.Redis{r, replica} {
			must(b, x.Client.ConfigSet(context.Background(), "aof-timestamp-enabled", on).Err())
		}
	}
	const n = 300000
	var base, ship, self, aofRate series
	for range max(*repeat, 1) {
		stamps("no")
		base = append(base, setRate(b, r, n))
		stamps("yes")
		_, stop := shipper(b, log, replica, dirStore(b))
		before, start := aofBytes(b, r), time.Now()
		ship = append(ship, setRate(b, r, n))
		aofRate = append(aofRate, mbps(aofBytes(b, r)-before, time.Since(start)))
		stop()
		_, stop = shipper(b, log, r, dirStore(b))
		self = append(self, setRate(b, r, n))
		stop()
	}
	rep.add("SET throughput on a master with a replica (100 B, 50 clients, pipeline 16), best of %d: %.0f/s without PITR, %.0f/s with (#TS, the replica ships), %.0f/s with the master itself shipping",
		len(base), base.best(), ship.best(), self.best())
	rep.add("write throughput with shipping vs without: %.3f (median of rounds %.3f; goal >= 0.95); the master shipping itself: %.3f",
		ship.best()/base.best(), pairRatio(ship, base), self.best()/base.best())
	rep.add("the master's AOF write rate at full SET speed: %.1f MB/s (best)", aofRate.best())
	aofMBps = aofRate.best()
}

var aofMBps float64

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// durableLatency: writes at a steady rate, each one's AOF end offset
// recorded after its reply; the shipper's stored offset polled every
// 5 ms; a write is durable when the stored offset passes its end.
func durableLatency(b *testing.B, rep *report, log hclog.Logger, name string, st store.Store) {
	r := aofRedis(b)
	sh, stop := shipper(b, log, r, st)
	defer stop()
	var mu sync.Mutex
	type point struct {
		at  time.Time
		off int64
	}
	var polls []point
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if s, ok := sh.Status(); ok {
				mu.Lock()
				polls = append(polls, point{time.Now(), s.Offset})
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	incr := currentIncrPath(b, r.Dir)
	type write struct {
		acked time.Time
		end   int64
	}
	var ws []write
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		must(b, r.Client.Set(context.Background(), "k:"+strconv.Itoa(len(ws)), "v", 0).Err())
		w := write{acked: time.Now()}
		fi, err := os.Stat(incr)
		must(b, err)
		w.end = fi.Size()
		ws = append(ws, w)
		time.Sleep(5 * time.Millisecond)
	}
	harness.Eventually(b, 30*time.Second, func() error {
		if s, _ := sh.Status(); s.Offset < ws[len(ws)-1].end {
			return fmt.Errorf("shipped %d of %d", s.Offset, ws[len(ws)-1].end)
		}
		return nil
	})
	cancel()
	<-done
	var lat []time.Duration
	for _, w := range ws {
		i := sort.Search(len(polls), func(i int) bool { return polls[i].off >= w.end })
		lat = append(lat, polls[i].at.Sub(w.acked))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))].Round(time.Millisecond) }
	rep.add("acknowledged to durable in the %s store (PITR_INTERVAL 1s, %d writes over 10 s): p50 %s, p99 %s, max %s (goal p99 <= 2s)",
		name, len(lat), p(0.5), p(0.99), p(1))
}

// currentIncrPath is the newest incr file of the manifest in dataDir.
func currentIncrPath(b *testing.B, dataDir string) string {
	dir := filepath.Join(dataDir, pitr.AOFDir)
	f, err := os.Open(filepath.Join(dir, pitr.AOFFilename+".manifest"))
	must(b, err)
	defer f.Close()
	m, err := pitr.ParseManifest(f)
	must(b, err)
	incrs := m.Incrs()
	return filepath.Join(dir, incrs[len(incrs)-1].Name)
}

// shipAndRestore: pitr-aof-mb of AOF (1 KB SETs over several seconds)
// behind a chain's base, shipped in one go (the shipper's throughput,
// against the AOF write rate above); then a restore to the middle of the
// window plus redis loading it, against redis-server loading the same
// appendonlydir itself.
func shipAndRestore(b *testing.B, rep *report, log hclog.Logger) {
	r := aofRedis(b)
	c := redisnode.Dial(r.Addr, "")
	defer c.Close()
	st := dirStore(b)
	cs := chainStore(b, st)
	sh, err := pitr.NewShipper(pitr.ShipperOptions{Node: pitr.RedisNode{C: c}, DataDir: r.Dir, Store: cs, Holder: r.Addr, Log: log})
	must(b, err)
	ctx := context.Background()
	_, err = sh.Tick(ctx)
	must(b, err)
	for left := int64(*pitrAOFMB)<<20 - aofBytes(b, r); left > 0; left = int64(*pitrAOFMB)<<20 - aofBytes(b, r) {
		n := strconv.FormatInt(min(100000, left/1000+1), 10)
		exec.Command("redis-benchmark", "-p", strconv.Itoa(r.Port), "-t", "set", "-n", n, "-d", "1000",
			"-c", "20", "-P", "16", "-r", "10000000", "-q").Run()
	}
	size := aofBytes(b, r)
	start, cpu0 := time.Now(), cpuTime()
	for {
		_, err := sh.Tick(ctx)
		must(b, err)
		if s, _ := sh.Status(); s.BytesBehind == 0 && s.Offset >= size-(1<<20) {
			break
		}
	}
	shipped, _ := sh.Status()
	shipRate, perCPU := mbps(shipped.Offset, time.Since(start)), mbps(shipped.Offset, cpuTime()-cpu0)
	disk := diskRate(b, shipped.Offset)
	rep.add("shipping throughput (%d MB of AOF behind, directory store): %.1f MB/s, %.1fx the AOF write rate at full SET speed (goal >= 3x and >= 100 MB/s)",
		shipped.Offset>>20, shipRate, shipRate/aofMBps)
	rep.add("  the same bytes written and fsynced in 64 MiB files on the store's disk: %.1f MB/s (a directory store's ceiling): shipping is %.2fx of it; "+
		"%.0f MB per CPU-second of this process while shipping (what a free core would ship)", disk, shipRate/disk, perCPU)
	sh.End(ctx, "benchmark")
	chains, err := cs.Chains(ctx)
	must(b, err)
	w := chains[0].Window()
	mid := (w.From + w.To) / 2
	must(b, r.Client.Shutdown(ctx).Err())
	<-r.Done()
	restoreVersusLoad(b, rep, log, cs, chains, mid, r.Dir, shipped.Offset)
}

func restoreVersusLoad(b *testing.B, rep *report, log hclog.Logger, cs *pitr.ChainStore, chains []pitr.Chain, mid int64, dataDir string, aof int64) {
	sup, err := supervisor.New(supervisor.Options{Log: log, NoSignals: true})
	must(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	must(b, sup.Start(ctx))
	defer func() { sup.StopAll(context.Background()); cancel(); <-sup.Done() }()
	plan, err := pitr.Choose(chains, mid)
	must(b, err)
	var base, rst series
	// Loading runs at some 10-100 MB/s here, slower under load.
	load := 20*time.Second + time.Duration(aof>>20)*200*time.Millisecond
	for range max(*repeat, 1) {
		t0 := time.Now()
		harness.StartRedis(b, harness.RedisOptions{Dir: dataDir, Extra: []string{"appendonly yes"}, LoadTimeout: load}).Stop()
		base = append(base, time.Since(t0).Seconds())
		t0 = time.Now()
		d := harness.TempDir(b, "pitr-rst")
		must(b, pitr.Restore(ctx, pitr.RestoreOptions{Source: cs, DataDir: d, Sup: sup, Log: log}, plan))
		restored := time.Since(t0)
		harness.StartRedis(b, harness.RedisOptions{Dir: d, Extra: []string{"appendonly yes"}, LoadTimeout: load}).Stop()
		rst = append(rst, time.Since(t0).Seconds())
		rep.add("restore to mid-window: %.1fs (of which restore %.1fs), redis-server loading the whole AOF %.1fs",
			rst[len(rst)-1], restored.Seconds(), base[len(base)-1])
		os.RemoveAll(d)
	}
	rep.add("restore of a base + %d MB of AOF to mid-window, then loading, vs redis-server loading the same AOF: %.2fx (median of rounds; goal <= 1.3x)",
		aof>>20, pairRatio(rst, base))
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// diskRate writes n bytes as 64 MiB files, each fsynced, as the directory
// store writes segments, into a temporary directory on the same disk, and
// returns MB/s: the ceiling of shipping into a directory store.
func diskRate(b *testing.B, n int64) float64 {
	dir := b.TempDir()
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	start := time.Now()
	for i, left := 0, n; left > 0; i, left = i+1, left-int64(len(buf)) {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
		must(b, err)
		_, err = f.Write(buf[:min(left, int64(len(buf)))])
		must(b, err)
		must(b, f.Sync())
		must(b, f.Close())
	}
	return mbps(n, time.Since(start))
}
