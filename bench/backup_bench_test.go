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

	"filippo.io/age"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
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
	r, rdb := loadDataset(b, rep, *datasetMB)
	rdbSize := fileSize(b, rdb)
	c := redisnode.Dial(r.Addr, "")
	defer c.Close()
	stores := map[string]store.Store{"dir": dirStore(b), "manta": mantaStore(b, log), "s3": s3Store(b, log)}
	keys, secret := benchKeys(b)
	names := backups(b, rep, log, c, r.Dir, rdb, rdbSize, stores, keys)
	restores(b, rep, log, rdb, stores, names, keys)
	rss(b, rep, r, secret, []string{"zstd", "zstd+age", "gzip"})
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

// pipeline is one backup configuration: a store, a compression and
// whether it is encrypted (age, X25519, as BACKUP_ENCRYPTION_KEY does).
type pipeline struct {
	store, comp string
	enc         bool
	// restore: also restored in the restore phase.
	restore bool
}

// key names a pipeline in the maps and the report: "dir/zstd",
// "dir/zstd+age".
func (p pipeline) key() string {
	k := p.store + "/" + p.comp
	if p.enc {
		k += "+age"
	}
	return k
}

// pipelines: each encrypted one runs right after its plain twin, so the
// ratio between them pairs runs made back to back.
var pipelines = []pipeline{
	{store: "dir", comp: "zstd", restore: true}, {store: "dir", comp: "zstd", enc: true, restore: true},
	{store: "dir", comp: "gzip", restore: true},
	{store: "manta", comp: "zstd", restore: true}, {store: "manta", comp: "zstd", enc: true, restore: true},
	{store: "s3", comp: "zstd", restore: true}, {store: "s3", comp: "zstd", enc: true, restore: true},
	{store: "manta", comp: "gzip"},
}

// benchKeys is a fresh age X25519 identity for the encrypted pipelines,
// parsed and as the AGE-SECRET-KEY-1... text BACKUP_ENCRYPTION_KEY takes.
func benchKeys(b *testing.B) (*crypt.Keys, string) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	keys, err := crypt.ParseKeys(id.String())
	if err != nil {
		b.Fatal(err)
	}
	return keys, id.String()
}

// encRatios reports, for each store with an encrypted pipeline, the
// encrypted figure over the plain one of the same round.
func encRatios(rep *report, what string, get func(k string) series) {
	for _, p := range pipelines {
		if !p.enc {
			continue
		}
		plain := pipeline{store: p.store, comp: p.comp}.key()
		rep.add("| %s, encrypted vs plain, %s → %s store | | %.2f× | same round |", what, p.comp, p.store, pairRatio(get(p.key()), get(plain)))
	}
}

// backups runs rounds of: gzip -6, zstd -T0 -3, then each pipeline, and
// reports throughput and ratios paired within a round (the machine is
// shared, so a baseline measured minutes apart would not compare).
func backups(b *testing.B, rep *report, log hclog.Logger, c *redisnode.Client, dataDir, rdb string, rdbSize int64, stores map[string]store.Store, keys *crypt.Keys) map[string]string {
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
			k := p.key()
			if ours[k] == nil {
				ours[k] = &struct {
					mbps, vsGzip, vsZstd series
					st                   backup.Stats
				}{}
			}
			time.Sleep(time.Second) // backup names have second resolution
			var st backup.Stats
			opt := backup.Options{Redis: c, DataDir: dataDir, Store: stores[p.store], Compression: p.comp, Log: log, Stats: &st}
			if p.enc {
				opt.Encryption = keys
			}
			info, err := backup.Backup(context.Background(), opt)
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
		o := ours[p.key()]
		what := "compress + sha256 + store"
		if p.enc {
			what = "compress + age encrypt + sha256 + store"
		}
		rep.add("| backup pipeline %s → %s store (%s) | %.0f MB/s (best), ratio %.3f | %.1f× gzip -6, %.2f× zstd -T0 -3 | BGSAVE %.1fs, verify read-back %.1fs |",
			p.key(), p.store, what, o.mbps.best(), float64(o.st.RDBBytes)/float64(o.st.StoredBytes), o.vsGzip.median(), o.vsZstd.median(),
			o.st.Bgsave.Seconds(), o.st.Verify.Seconds())
	}
	rep.add("| backup to S3 store (versitygw, loopback) vs directory store, zstd | | %.2f× | same round |",
		pairRatio(ours["s3/zstd"].mbps, ours["dir/zstd"].mbps))
	encRatios(rep, "backup throughput", func(k string) series { return ours[k].mbps })
	return names
}

// loadDataset fills a redis with about mb MB of RDB through redis-cli
// --pipe and saves it.
func loadDataset(b *testing.B, rep *report, mb int) (*harness.Redis, string) {
	r := harness.StartRedis(b, harness.RedisOptions{})
	gen := filepath.Join(b.TempDir(), "dataset.resp")
	f, err := os.Create(gen)
	if err != nil {
		b.Fatal(err)
	}
	keys := mb * KeysPerMB
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
func restores(b *testing.B, rep *report, log hclog.Logger, rdb string, stores map[string]store.Store, names map[string]string, keys *crypt.Keys) {
	sup, stop := startSup(b, log)
	defer stop()
	var base, load series
	secs, ratio := map[string]series{}, map[string]series{}
	for range max(*repeat, 1) {
		t, l := loadBaseline(b, sup, rdb)
		base, load = append(base, t.Seconds()), append(load, l.Seconds())
		for _, p := range pipelines {
			if !p.restore {
				continue
			}
			k := p.key()
			took := restoreOnce(b, sup, log, stores[p.store], names[k], keys).Seconds()
			secs[k], ratio[k] = append(secs[k], took), append(ratio[k], took/t.Seconds())
		}
	}
	rep.add("| baseline: redis-server loads the uncompressed RDB, then AOF rewrite | %.1fs (median) | | load alone %.1fs |", base.median(), load.median())
	for _, p := range pipelines {
		if !p.restore {
			continue
		}
		k := p.key()
		steps := "download, sha256, decompress"
		if p.enc {
			steps = "download, sha256, decrypt, decompress"
		}
		rep.add("| restore %s from %s store (%s, check-rdb ∥ load + AOF rewrite) | %.1fs (median) | %.2f× | |",
			k, p.store, steps, secs[k].median(), ratio[k].median())
	}
	encRatios(rep, "restore time", func(k string) series { return secs[k] })
	rep.add("| restore from S3 store vs directory store, zstd (time) | | %.2f× | same round |", pairRatio(secs["s3/zstd"], secs["dir/zstd"]))
}

// startSup starts a supervisor for the restores' redis-servers; stop
// stops it and its children.
func startSup(b *testing.B, log hclog.Logger) (sup *supervisor.Supervisor, stop func()) {
	sup, err := supervisor.New(supervisor.Options{Log: log, NoSignals: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sup.Start(ctx); err != nil {
		b.Fatal(err)
	}
	return sup, func() { sup.StopAll(context.Background()); cancel(); <-sup.Done() }
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
