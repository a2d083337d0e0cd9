package bench

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

var rssMB = flag.String("rss-mb", "100,1000", "RDB sizes in MB BenchmarkRSS measures `backup now` at, comma-separated")

// BenchmarkRSS measures the peak RSS of `redis-autopilot backup now`,
// plain (zstd) and encrypted (zstd+age), at each size of -rss-mb, in
// alternating rounds, and prints the figures with their ratios:
// encrypted to plain within a round, each size to the first. Run it once:
// go test -run '^$' -bench RSS -benchtime 1x ./bench [-rss-mb 100,1000]
func BenchmarkRSS(b *testing.B) {
	for range b.N {
		rep := &report{}
		var first map[string]series
		eachRSSSize(b, rep, func(f string, r *harness.Redis, rdbMB float64) {
			got := rssRounds(b, rep, r, rdbMB)
			if first == nil {
				first = got
				return
			}
			for _, comp := range []string{"zstd", "zstd+age"} {
				rep.add("| peak RSS `backup now` (%s), %s vs %s | | %.2f× | median over median |",
					comp, f, strings.Split(*rssMB, ",")[0], got[comp].median()/first[comp].median())
			}
		})
		fmt.Printf("\n%d rounds per size; load average %s at end\n\n| what | figure | ratio | notes |\n|---|---|---|---|\n%s\n",
			*repeat, loadavg(), strings.Join(rep.lines, "\n"))
	}
}

// eachRSSSize loads a dataset of each size of -rss-mb in turn and calls
// measure with the size as given, the redis holding it and the RDB's MB.
func eachRSSSize(b *testing.B, rep *report, measure func(f string, r *harness.Redis, rdbMB float64)) {
	for _, f := range strings.Split(*rssMB, ",") {
		f = strings.TrimSpace(f)
		mb, err := strconv.Atoi(f)
		if err != nil {
			b.Fatalf("-rss-mb %q: %v", *rssMB, err)
		}
		r, rdb := loadDataset(b, rep, mb)
		measure(f, r, float64(fileSize(b, rdb))/1e6)
		r.Stop()
		os.Remove(rdb)
	}
}

// rssRounds runs `backup now` plain then encrypted, -repeat rounds, and
// reports each one's peak RSS (median and highest) and the encrypted
// over plain ratio of the same round. It returns the peaks in MB.
func rssRounds(b *testing.B, rep *report, r *harness.Redis, rdbMB float64) map[string]series {
	e := newRSSEnv(b, r)
	peaks, ratio := map[string]series{}, series{}
	for range max(*repeat, 1) {
		for _, comp := range []string{"zstd", "zstd+age"} {
			_, kb := e.backupNow(b, comp)
			peaks[comp] = append(peaks[comp], float64(kb)/1024)
		}
		n := len(peaks["zstd"]) - 1
		ratio = append(ratio, peaks["zstd+age"][n]/peaks["zstd"][n])
	}
	for _, comp := range []string{"zstd", "zstd+age"} {
		rep.add("| peak RSS `backup now` (%s), RDB %.0f MB | %.1f MB (median), %.1f MB (highest) | | idle `backup list`: %.1f MB |",
			comp, rdbMB, peaks[comp].median(), peaks[comp].best(), e.idle)
	}
	rep.add("| peak RSS `backup now`, encrypted vs plain, RDB %.0f MB | | %.2f× | same round, median |", rdbMB, ratio.median())
	return peaks
}

// rssEnv runs the binary against one redis, a Consul and the directory
// store, as `backup now` runs in a container.
type rssEnv struct {
	bin, keyFile string
	env          []string
	idle         float64 // MB: peak RSS of `backup list`
}

func newRSSEnv(b *testing.B, r *harness.Redis) *rssEnv {
	bin := os.Getenv("REDIS_AUTOPILOT_BINARY") // make matrix: built beforehand
	if bin == "" {
		bin = buildAsShipped(b)
	}
	consul := harness.StartConsul(b)
	e := &rssEnv{bin: bin, keyFile: filepath.Join(b.TempDir(), "backup.key")}
	e.env = append(os.Environ(), "REDIS_PORT="+strconv.Itoa(r.Port), "REDIS_DATA_DIR="+r.Dir, "BACKUP_DIR="+b.TempDir(),
		"CONSUL_HTTP_ADDR="+consul.HTTPAddr, "LOG_LEVEL=WARN")
	_, kb := runRSS(b, bin, e.env, "backup", "list")
	e.idle = float64(kb) / 1024
	_, secret := benchKeys(b)
	if err := os.WriteFile(e.keyFile, []byte(secret+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	return e
}

// buildAsShipped builds the binary as the Dockerfile does (no cgo, no
// symbol table): its own file pages are part of the RSS measured, and a
// cgo build maps libc too (about 1.5 MB more).
func buildAsShipped(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "redis-autopilot")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin,
		"github.com/autopilotpattern/redis-autopilot/cmd/redis-autopilot")
	cmd.Env, cmd.Stdout, cmd.Stderr = append(os.Environ(), "CGO_ENABLED=0"), os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("go build: %v", err)
	}
	return bin
}

// environ is the environment of a backup with comp ("zstd", "gzip";
// "+age" encrypts, the key given as BACKUP_ENCRYPTION_KEY_FILE, mode
// 0600).
func (e *rssEnv) environ(comp string) []string {
	env := slices.Clip(e.env)
	if c, ok := strings.CutSuffix(comp, "+age"); ok {
		env = append(env, "BACKUP_ENCRYPTION_KEY_FILE="+e.keyFile)
		comp = c
	}
	return append(env, "BACKUP_COMPRESSION="+comp)
}

// backupNow runs `backup now` into a fresh directory store (so that no two
// runs share a name) and returns the backup's name and its peak RSS in KiB.
func (e *rssEnv) backupNow(b *testing.B, comp string) (string, int64) {
	dir := harness.TempDir(b, "rss")
	defer os.RemoveAll(dir)
	out, kb := runRSS(b, e.bin, append(e.environ(comp), "BACKUP_DIR="+dir), "backup", "now")
	return strings.Fields(out)[0], kb
}

// rss runs `redis-autopilot backup now` and `backup restore` of each of
// comps as child processes and reports their peak RSS (VmHWM, see
// runRSS).
func rss(b *testing.B, rep *report, r *harness.Redis, secret string, comps []string) {
	e := newRSSEnv(b, r)
	if err := os.WriteFile(e.keyFile, []byte(secret+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, comp := range comps {
		env := e.environ(comp)
		out, kb := runRSS(b, e.bin, env, "backup", "now")
		name := strings.Fields(out)[0]
		rep.add("| peak RSS `backup now` (%s) | %.1f MB | | idle `backup list`: %.1f MB |", name, float64(kb)/1024, e.idle)
		d := harness.TempDir(b, "rss")
		_, kb = runRSS(b, e.bin, append(env, "REDIS_DATA_DIR="+d, "REDIS_PORT="+strconv.Itoa(harness.FreePort(b))),
			"backup", "restore", name)
		rep.add("| peak RSS `backup restore` (%s) | %.1f MB | | its redis-server child not counted |", name, float64(kb)/1024)
		os.RemoveAll(d)
	}
}

// runRSS runs bin and returns its stdout and its own peak RSS in KiB
// (VmHWM, see watchRSS). wait4's ru_maxrss would not do: it counts the
// process's reaped children (the private redis-server of a restore) and,
// for a child of this process, starts at this process's RSS inherited at
// fork.
func runRSS(b *testing.B, bin string, env []string, args ...string) (string, int64) {
	var stdout strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, os.Stderr
	d := watchRSS(b, cmd)
	return stdout.String(), int64(d.peak)
}
