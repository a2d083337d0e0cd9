package pitr

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/redis/go-redis/v9"
)

// startAOFRedis starts a real redis writing a timestamped AOF that reaches
// the disk at every write.
func startAOFRedis(t *testing.T) *harness.Redis {
	t.Helper()
	return startAOFRedisIn(t, "")
}

// startAOFRedisIn is startAOFRedis on the data directory dir ("" for a
// fresh one).
func startAOFRedisIn(t *testing.T, dir string) *harness.Redis {
	t.Helper()
	return harness.StartRedis(t, harness.RedisOptions{Dir: dir, Extra: []string{
		"appendonly yes", "aof-timestamp-enabled yes", "appendfsync always",
		`appenddirname "appendonlydir"`, `appendfilename "appendonly.aof"`,
	}})
}

// currentIncr returns the path of the newest incr file of the manifest.
func currentIncr(t *testing.T, dir string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "appendonlydir", "appendonly.aof.manifest"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ParseManifest(f)
	if err != nil {
		t.Fatal(err)
	}
	incrs := m.Incrs()
	if len(incrs) == 0 {
		t.Fatalf("manifest %q has no incr file", m.String())
	}
	return filepath.Join(dir, "appendonlydir", incrs[len(incrs)-1].Name)
}

// nextSecond waits until the wall clock passes into a new second, so the
// next write gets a new #TS.
func nextSecond(t *testing.T) {
	t.Helper()
	start := time.Now().Unix()
	harness.Eventually(t, 2*time.Second, func() error {
		if time.Now().Unix() == start {
			return errors.New("still the same second")
		}
		return nil
	})
}

// realAOF makes redis write an incr file with what the scanner must get
// right: #TS annotations across seconds, MULTI/EXEC, a Lua script with
// several writes, SELECT, values holding CRLF, "*", "#TS:" and "MULTI",
// an empty value and a large one; it returns the incr file's bytes.
func realAOF(t *testing.T) []byte {
	t.Helper()
	r := startAOFRedis(t)
	ctx := context.Background()
	c := r.Client
	do := func(args ...any) {
		t.Helper()
		if err := c.Do(ctx, args...).Err(); err != nil && err != redis.Nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	do("set", "plain", "1")
	do("set", "tricky", "\r\n*1\r\n$5\r\nMULTI\r\n#TS:1\r\n")
	do("set", "empty", "")
	nextSecond(t)
	tx := c.TxPipeline()
	tx.Set(ctx, "tx1", "a", 0)
	tx.Set(ctx, "tx2", "b\r\nEXEC\r\n", 0)
	tx.Incr(ctx, "tx3")
	if _, err := tx.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	do("eval", "redis.call('set','lua1','x'); redis.call('set','lua2','y'); return 1", "0")
	conn := c.Conn()
	defer conn.Close()
	if err := conn.Select(ctx, 3).Err(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Set(ctx, "big", strings.Repeat("v", 3000), 0).Err(); err != nil {
		t.Fatal(err)
	}
	nextSecond(t)
	tx = c.TxPipeline()
	tx.Del(ctx, "plain")
	tx.HSet(ctx, "h", "f", "g")
	if _, err := tx.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	do("set", "after", "1")
	b, err := os.ReadFile(currentIncr(t, r.Dir))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
