package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/backup/store/manta"
	"github.com/autopilotpattern/redis-autopilot/etc"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
	"github.com/hashicorp/go-hclog"
)

var (
	datasetMB = flag.Int("dataset-mb", 100, "size of the generated RDB in MB (about; 1000 for the 1 GB run)")
	repeat    = flag.Int("repeat", 3, "runs of each throughput measurement; the best is reported (the machine is shared)")
)

// best runs f repeat times and returns its shortest duration.
func best(f func() time.Duration) time.Duration {
	d := time.Duration(1<<63 - 1)
	for range max(*repeat, 1) {
		d = min(d, f())
	}
	return d
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// report collects the result lines, printed at the end.
type report struct{ lines []string }

func (r *report) add(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }

// BenchmarkBackup measures the backup and restore pipelines against
// baselines run on the same RDB in the same run, and prints ratios. Run
// it once: go test -run '^$' -bench Backup -benchtime 1x ./bench [-dataset-mb 1000]
func BenchmarkBackup(b *testing.B) {
	for range b.N {
		runBench(b)
	}
}

func runBench(b *testing.B) {
	log := hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Warn, Output: os.Stderr})
	rep := &report{}
	startLoad := loadavg()
	r, rdb := loadDataset(b, rep)
	rdbSize := fileSize(b, rdb)
	c := redisnode.Dial(r.Addr, "")
	defer c.Close()
	stores := map[string]store.Store{"dir": dirStore(b), "manta": mantaStore(b, log), "s3": s3Store(b, log)}
	names := backups(b, rep, log, c, r.Dir, rdb, rdbSize, stores)
	restores(b, rep, log, rdb, stores, names)
	rss(b, rep, r)
	fmt.Printf("\nRDB %.0f MB; %d rounds, each baseline and pipeline run back to back; ratios are the median of the rounds' ratios; load average %s at start, %s at end\n\n| what | figure | ratio to baseline (median) | notes |\n|---|---|---|---|\n%s\n",
		float64(rdbSize)/1e6, *repeat, startLoad, loadavg(), strings.Join(rep.lines, "\n"))
}

// series collects one measurement per round.
type series []float64

func (s series) median() float64 {
	c := append(series(nil), s...)
	sort.Float64s(c)
	if len(c) == 0 {
		return 0
	}
	return c[len(c)/2]
}

func (s series) best() float64 { return slices.Max(s) }

// pipelines: the first four are also restored.
var pipelines = []struct{ store, comp string }{{"dir", "zstd"}, {"dir", "gzip"}, {"manta", "zstd"}, {"s3", "zstd"}, {"manta", "gzip"}}

// backups runs rounds of: gzip -6, zstd -T0 -3, then each pipeline, and
// reports throughput and ratios paired within a round (the machine is
// shared, so a baseline measured minutes apart would not compare).
func backups(b *testing.B, rep *report, log hclog.Logger, c *redisnode.Client, dataDir, rdb string, rdbSize int64, stores map[string]store.Store) map[string]string {
	var gz, zs series
	var gzRatio, zsRatio float64
	ours := map[string]*struct {
		mbps, vsGzip, vsZstd series
		st                   backup.Stats
	}{}
	names := map[string]string{}
	for range max(*repeat, 1) {
		g, gr := cliRun(b, "gzip -6", rdb, rdbSize)
		z, zr := cliRun(b, "zstd -T0 -3", rdb, rdbSize)
		gz, zs, gzRatio, zsRatio = append(gz, g), append(zs, z), gr, zr
		for _, p := range pipelines {
			k := p.store + "/" + p.comp
			if ours[k] == nil {
				ours[k] = &struct {
					mbps, vsGzip, vsZstd series
					st                   backup.Stats
				}{}
			}
			time.Sleep(time.Second) // backup names have second resolution
			var st backup.Stats
			info, err := backup.Backup(context.Background(), backup.Options{Redis: c, DataDir: dataDir,
				Store: stores[p.store], Compression: p.comp, Log: log, Stats: &st})
			if err != nil {
				b.Fatal(err)
			}
			names[k] = info.Name
			m := mbps(st.RDBBytes, st.Upload)
			o := ours[k]
			o.mbps, o.vsGzip, o.vsZstd, o.st = append(o.mbps, m), append(o.vsGzip, m/g), append(o.vsZstd, m/z), st
		}
	}
	rep.add("| baseline `gzip -6 -c dump.rdb > /dev/null` | %.0f MB/s (best), ratio %.3f | | what the shell version ran |", gz.best(), gzRatio)
	rep.add("| baseline `zstd -T0 -3 -c dump.rdb > /dev/null` | %.0f MB/s (best), ratio %.3f | | the practical limit |", zs.best(), zsRatio)
	for _, p := range pipelines {
		o := ours[p.store+"/"+p.comp]
		rep.add("| backup pipeline %s → %s store (compress + sha256 + store) | %.0f MB/s (best), ratio %.3f | %.1f× gzip -6, %.2f× zstd -T0 -3 | BGSAVE %.1fs, verify read-back %.1fs |",
			p.comp, p.store, o.mbps.best(), float64(o.st.RDBBytes)/float64(o.st.StoredBytes), o.vsGzip.median(), o.vsZstd.median(),
			o.st.Bgsave.Seconds(), o.st.Verify.Seconds())
	}
	rep.add("| backup to S3 store (versitygw, loopback) vs directory store, zstd | | %.2f× | same round |",
		pairRatio(ours["s3/zstd"].mbps, ours["dir/zstd"].mbps))
	return names
}

// loadDataset fills a redis through redis-cli --pipe and saves it.
func loadDataset(b *testing.B, rep *report) (*harness.Redis, string) {
	r := harness.StartRedis(b, harness.RedisOptions{})
	gen := filepath.Join(b.TempDir(), "dataset.resp")
	f, err := os.Create(gen)
	if err != nil {
		b.Fatal(err)
	}
	keys := *datasetMB * KeysPerMB
	if err := WriteDataset(f, keys, 1); err != nil {
		b.Fatal(err)
	}
	f.Close()
	start := time.Now()
	run(b, nil, "sh", "-c", fmt.Sprintf("%s -p %d --pipe < %s", harness.Program("redis-cli"), r.Port, gen))
	rep.add("| load %d keys via redis-cli --pipe | %.1fs | | |", keys, time.Since(start).Seconds())
	os.Remove(gen)
	start = time.Now()
	run(b, nil, harness.Program("redis-cli"), "-p", strconv.Itoa(r.Port), "save") // no client read timeout
	rep.add("| SAVE | %.1fs | | |", time.Since(start).Seconds())
	return r, filepath.Join(r.Dir, "dump.rdb")
}

// cliRun runs a compressor CLI over the RDB, output counted and discarded,
// and returns its MB/s and compression ratio.
func cliRun(b *testing.B, cmd, rdb string, size int64) (float64, float64) {
	cw := &countWriter{}
	start := time.Now()
	run(b, cw, "sh", "-c", cmd+" -c "+rdb)
	return mbps(size, time.Since(start)), float64(size) / float64(cw.n)
}

// loadBaseline times redis-server loading the uncompressed RDB plus the
// AOF rewrite (what a restore does once the RDB is on disk), run through
// sup as the restore runs its private redis.
func loadBaseline(b *testing.B, sup *supervisor.Supervisor, rdb string) (total, load time.Duration) {
	d := harness.TempDir(b, "bl")
	defer os.RemoveAll(d)
	run(b, nil, "cp", rdb, filepath.Join(d, "dump.rdb"))
	sock, conf := filepath.Join(d, "redis.sock"), filepath.Join(d, "redis.conf")
	if err := etc.WriteFile(conf, func(w io.Writer) error {
		return etc.RenderRedis(w, etc.RedisConf{UnixSocket: sock, Dir: d, Extra: []string{`save ""`}})
	}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	child, err := sup.Add(supervisor.ChildSpec{Command: supervisor.Command{Name: "baseline", Path: harness.NeedBinary(b, "redis-server"), Args: []string{conf}}})
	if err != nil {
		b.Fatal(err)
	}
	c := redisnode.Dial(sock, "")
	defer c.Close()
	waitFor(b, c, func(i redisnode.Info) bool { return !i.Loading() })
	load = time.Since(start)
	if err := c.Redis().ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		b.Fatal(err)
	}
	waitFor(b, c, func(i redisnode.Info) bool {
		n, _ := i.Get("aof_rewrites")
		return n != "0" && !i.AOFRewriteInProgress() && !i.AOFRewriteScheduled()
	})
	total = time.Since(start)
	if err := child.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	return total, load
}

func waitFor(b *testing.B, c *redisnode.Client, done func(redisnode.Info) bool) {
	err := harness.Wait(30*time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		info, err := c.Info(ctx, "persistence")
		if err != nil || !done(info) { // polled every 50 ms, as the restore polls
			return fmt.Errorf("not yet (%v)", err)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// restores runs rounds of: the baseline (redis-server loading the RDB
// plus the AOF rewrite), then backup.Restore of each backup, with a
// supervisor running only for this phase.
func restores(b *testing.B, rep *report, log hclog.Logger, rdb string, stores map[string]store.Store, names map[string]string) {
	sup, err := supervisor.New(supervisor.Options{Log: log, NoSignals: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sup.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { sup.StopAll(context.Background()); cancel(); <-sup.Done() }()
	var base, load series
	secs, ratio := map[string]series{}, map[string]series{}
	for range max(*repeat, 1) {
		t, l := loadBaseline(b, sup, rdb)
		base, load = append(base, t.Seconds()), append(load, l.Seconds())
		for _, p := range pipelines[:4] {
			k := p.store + "/" + p.comp
			d := harness.TempDir(b, "rst")
			start := time.Now()
			if _, err := backup.Restore(context.Background(), backup.RestoreOptions{Store: stores[p.store], Name: names[k],
				DataDir: d, Sup: sup, Log: log, RedisServerPath: harness.NeedBinary(b, "redis-server"),
				CheckRDBPath: harness.NeedBinary(b, "redis-check-rdb")}); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start).Seconds()
			secs[k], ratio[k] = append(secs[k], took), append(ratio[k], took/t.Seconds())
			os.RemoveAll(d)
		}
	}
	rep.add("| baseline: redis-server loads the uncompressed RDB, then AOF rewrite | %.1fs (median) | | load alone %.1fs |", base.median(), load.median())
	for _, p := range pipelines[:4] {
		k := p.store + "/" + p.comp
		rep.add("| restore %s from %s store (download, sha256, decompress, check-rdb ∥ load + AOF rewrite) | %.1fs (median) | %.2f× | |",
			p.comp, p.store, secs[k].median(), ratio[k].median())
	}
	rep.add("| restore from S3 store vs directory store, zstd (time) | | %.2f× | same round |", pairRatio(secs["s3/zstd"], secs["dir/zstd"]))
}

// rss runs `redis-autopilot backup now` and `backup restore` as child
// processes and reports their peak RSS (wait4's ru_maxrss).
func rss(b *testing.B, rep *report, r *harness.Redis) {
	bin := os.Getenv("REDIS_AUTOPILOT_BINARY") // make matrix: built beforehand
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "redis-autopilot")
		run(b, nil, "go", "build", "-o", bin, "github.com/autopilotpattern/redis-autopilot/cmd/redis-autopilot")
	}
	consul := harness.StartConsul(b)
	bdir := b.TempDir()
	env := append(os.Environ(), "REDIS_PORT="+strconv.Itoa(r.Port), "REDIS_DATA_DIR="+r.Dir, "BACKUP_DIR="+bdir,
		"CONSUL_HTTP_ADDR="+consul.HTTPAddr, "LOG_LEVEL=WARN")
	_, idle := runRSS(b, bin, env, "backup", "list")
	for _, comp := range []string{"zstd", "gzip"} {
		out, kb := runRSS(b, bin, append(env, "BACKUP_COMPRESSION="+comp), "backup", "now")
		name := strings.Fields(out)[0]
		rep.add("| peak RSS `backup now` (%s) | %.1f MB | | idle `backup list`: %.1f MB |", comp, float64(kb)/1024, float64(idle)/1024)
		d := harness.TempDir(b, "rss")
		_, kb = runRSS(b, bin, append(env, "REDIS_DATA_DIR="+d, "REDIS_PORT="+strconv.Itoa(harness.FreePort(b))),
			"backup", "restore", name)
		rep.add("| peak RSS `backup restore` (%s) | %.1f MB | | its redis-server child not counted |", comp, float64(kb)/1024)
		os.RemoveAll(d)
	}
}

// runRSS runs bin and returns its stdout and its own peak RSS in KiB:
// VmHWM from /proc, polled every 5 ms until it exits (VmHWM only grows, so
// the last reading is the peak up to the final 5 ms). wait4's ru_maxrss
// would not do: it counts the process's reaped children (the private
// redis-server of a restore) and, for a child of this process, starts at
// this process's RSS inherited at fork.
func runRSS(b *testing.B, bin string, env []string, args ...string) (string, int64) {
	var stdout strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var peak int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if kb := vmHWM(status); kb > peak {
			peak = kb
		}
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("%v: %v", args, err)
			}
			return stdout.String(), peak
		case <-tick.C:
		}
	}
}

func vmHWM(status string) int64 {
	raw, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

func run(b *testing.B, stdout io.Writer, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %v: %v", name, args, err)
	}
}

func fileSize(b *testing.B, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func dirStore(b *testing.B) store.Store {
	s, err := dir.New(dir.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func mantaStore(b *testing.B, log hclog.Logger) store.Store {
	srv := mantaserver.New(b, mantaserver.Options{})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	fp, err := srv.AddKey(srv.Account, "", key.Public())
	if err != nil {
		b.Fatal(err)
	}
	s, err := manta.New(manta.Options{URL: srv.URL, User: srv.Account, KeyID: fp, Signer: key,
		Bucket: "/" + srv.Account + "/stor/bench", Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
