package backup

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
	"github.com/autopilotpattern/redis-autopilot/test/suptest"
	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

const testPassword = "s3cret-Pa55word"

// logSink captures every log line of a test so it can be searched for
// secrets; it also forwards to t.Log.
type logSink struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// testLog returns a debug logger whose output is checked at the end of
// the test for the given secrets.
func testLog(t *testing.T, secrets ...string) (hclog.Logger, *logSink) {
	t.Helper()
	sink := &logSink{}
	t.Cleanup(func() {
		out := sink.String()
		for _, s := range append(secrets, testPassword) {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("a secret reached the log")
			}
		}
		if t.Failed() {
			t.Log(out)
		}
	})
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: sink}), sink
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startRedis starts a password-protected redis and returns it with a
// redisnode client.
func startRedis(t *testing.T, extra ...string) (*harness.Redis, *redisnode.Client) {
	t.Helper()
	r := harness.StartRedis(t, harness.RedisOptions{Password: testPassword, Extra: extra})
	c := redisnode.Dial(r.Addr, testPassword)
	t.Cleanup(func() { c.Close() })
	return r, c
}

func dirStore(t *testing.T) *dir.Store {
	t.Helper()
	return dirStoreAt(t, t.TempDir())
}

func dirStoreAt(t *testing.T, path string) *dir.Store {
	t.Helper()
	s, err := dir.New(dir.Options{Dir: path})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// backupToDir fills a new redis with keys keys and takes a zstd backup of
// it into a new directory store at path.
func backupToDir(t *testing.T, log hclog.Logger, keys int) (r *harness.Redis, path string, s *dir.Store, info store.Info) {
	t.Helper()
	r, c := startRedis(t)
	fill(t, r.Client, keys)
	path = t.TempDir()
	s = dirStoreAt(t, path)
	info, err := Backup(testCtx(t, time.Minute), Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return r, path, s, info
}

// fill writes n keys of several types.
func fill(t *testing.T, c *redis.Client, n int) {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	p := c.Pipeline()
	for i := range n {
		switch i % 4 {
		case 0:
			p.Set(ctx, fmt.Sprintf("s:%d", i), strings.Repeat(fmt.Sprintf("value-%d;", i), 1+i%20), 0)
		case 1:
			p.HSet(ctx, fmt.Sprintf("h:%d", i), "name", fmt.Sprint("n", i), "count", i, "blob", []byte{0, byte(i), 255})
		case 2:
			p.RPush(ctx, fmt.Sprintf("l:%d", i), "a", i, "c")
		case 3:
			p.ZAdd(ctx, fmt.Sprintf("z:%d", i), redis.Z{Score: float64(i), Member: "m"}, redis.Z{Score: 1.5, Member: "x"})
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// dataset returns every key with its type and content, for comparison.
func dataset(t *testing.T, c *redis.Client) map[string]string {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		var v any
		var err error
		switch k[0] {
		case 's':
			v, err = c.Get(ctx, k).Result()
		case 'h':
			v, err = c.HGetAll(ctx, k).Result()
		case 'l':
			v, err = c.LRange(ctx, k, 0, -1).Result()
		case 'z':
			v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
		}
		if err != nil {
			t.Fatalf("read %s: %v", k, err)
		}
		out[k] = fmt.Sprint(v)
	}
	return out
}

func equalData(t *testing.T, want, got map[string]string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("empty dataset compared")
	}
	var diff []string
	for k, v := range want {
		if got[k] != v {
			diff = append(diff, k)
		}
	}
	if len(got) != len(want) {
		diff = append(diff, fmt.Sprintf("(%d keys, want %d)", len(got), len(want)))
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Fatalf("restored data differs: %.10v", diff)
	}
}

func names(t *testing.T, s store.Store) []string {
	t.Helper()
	list, err := s.List(testCtx(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range list {
		out = append(out, i.Name)
	}
	return out
}

// startSup starts a supervisor for the test (one per process at a time).
func startSup(t *testing.T, log hclog.Logger) *supervisor.Supervisor {
	t.Helper()
	return suptest.Start(t, log.Named("sup"))
}

// mantaStore opens a Manta store on a test server through OpenStore and
// returns a line of the private key's PEM, to look for in logs.
func mantaStore(t *testing.T, log hclog.Logger, sink *logSink) (store.Store, *mantaserver.Server, string) {
	t.Helper()
	srv := mantaserver.New(t, mantaserver.Options{})
	key, fp, _ := srv.NewKey(t)
	cfg := &config.Config{MantaURL: srv.URL, MantaUser: srv.Account, MantaKeyID: fp, MantaKey: key,
		MantaBucket: "/" + srv.Account + "/stor/redis-backups"}
	s, err := OpenStore(cfg, log)
	if err != nil || s == nil {
		t.Fatalf("OpenStore: %v, %v", s, err)
	}
	line := noKeyInLog(t, key, sink)
	return s, srv, line
}

// noKeyInLog checks at the end of the test that no line of key's PEM
// body reached the log, and returns the first.
func noKeyInLog(t *testing.T, key *ecdsa.PrivateKey, sink *logSink) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))), "\n")
	body := lines[1 : len(lines)-1]
	t.Cleanup(func() {
		for _, l := range body {
			if strings.Contains(sink.String(), l) {
				t.Error("the Manta private key reached the log")
			}
		}
	})
	return body[0]
}
