package pitr

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/redis/go-redis/v9"
)

// timeline is what TestRestoreToTime did, in order.
type timeline struct {
	writes     []write
	writeUntil int64 // last second of the writer
	txSecond   int64 // EXEC of a MULTI queued the second before
	flushAt    int64 // FLUSHALL
	endAt      int64 // the last write, alone in its second
}

// runTimeline: a writer of n=n for three seconds; a MULTI queued in one
// second and executed in the next; a Lua script running from one second
// into the next; a FLUSHALL in a later second, then one write, and one
// more alone in the next second (a shipper holding it holds all).
func runTimeline(t *testing.T, r *harness.Redis) timeline {
	t.Helper()
	ctx := context.Background()
	var tl timeline
	tl.writeUntil = time.Now().Unix() + 2
	tl.writes = writeFor(t, r, tl.writeUntil)
	conn := r.Client.Conn()
	defer conn.Close()
	must(t, conn.Do(ctx, "multi").Err())
	must(t, conn.Do(ctx, "set", "tx:1", "a").Err())
	nextSecond(t)
	must(t, conn.Do(ctx, "set", "tx:2", "b").Err())
	tl.txSecond = time.Now().Unix()
	must(t, conn.Do(ctx, "exec").Err())
	script := `redis.call('set','lua:1','a')
local s = redis.call('time')[1]
while redis.call('time')[1] == s do end
redis.call('set','lua:2','b')
return 1`
	must(t, r.Client.Eval(ctx, script, nil).Err())
	nextSecond(t)
	tl.flushAt = time.Now().Unix()
	must(t, r.Client.FlushAll(ctx).Err())
	must(t, r.Client.Set(ctx, "post", "1", 0).Err())
	nextSecond(t)
	tl.endAt = time.Now().Unix()
	must(t, r.Client.Set(ctx, "end", "1", 0).Err())
	return tl
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
}

// pairs returns how many of the keys exist; a transaction's keys must be
// all there or none.
func pairs(t *testing.T, r *harness.Redis, keys ...string) int64 {
	t.Helper()
	n, err := r.Client.Exists(context.Background(), keys...).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 && n != int64(len(keys)) {
		t.Fatalf("%d of %v present: a transaction came back in part", n, keys)
	}
	return n
}

func TestRestoreToTime(t *testing.T) {
	sup := startSup(t)
	r := startAOFRedis(t)
	must(t, r.Client.Set(context.Background(), "before-base", "1", 0).Err())
	c := startTestChain(t, r)
	tl := runTimeline(t, r)
	// Pieces of 4 KiB, or a quarter of the incr file when a loaded machine
	// let the writer send few writes (two runs in ten under load 26 wrote
	// under 8 KiB): the restores must cross segment boundaries.
	fi, err := os.Stat(c.incr)
	if err != nil {
		t.Fatal(err)
	}
	chain := c.cut(t, int(min(4096, fi.Size()/4)))
	if len(chain.Segments) < 3 {
		t.Fatalf("only %d segments of a %d-byte incr file", len(chain.Segments), fi.Size())
	}
	checkTimeline(t, sup, c.src, []Chain{chain}, tl)
}

// checkTimeline restores the timeline's chain to four times and checks
// each: mid writer, the second before the transactions, the second
// before FLUSHALL, and latest.
func checkTimeline(t *testing.T, sup *supervisor.Supervisor, src Source, chains []Chain, tl timeline) {
	t.Helper()
	restore := func(t *testing.T, target int64) *harness.Redis {
		t.Helper()
		p, err := Choose(chains, target)
		if err != nil {
			t.Fatal(err)
		}
		return restoreAndStart(t, sup, src, p)
	}
	mid := tl.writeUntil - 1
	t.Run("mid writer second", func(t *testing.T) {
		got := restore(t, mid)
		k := writerKeys(t, got, tl.writes)
		for _, w := range tl.writes {
			if w.acked.Unix() <= mid && w.n > k {
				t.Fatalf("n:%d acknowledged at %s is missing (restored to %d, %d writes present)", w.n, w.acked, mid, k)
			}
			if w.sent.Unix() > mid && w.n <= k {
				t.Fatalf("n:%d sent at %s is present (restored to %d)", w.n, w.sent, mid)
			}
		}
		if pairs(t, got, "before-base") != 1 || pairs(t, got, "tx:1", "tx:2") != 0 || pairs(t, got, "lua:1", "lua:2") != 0 {
			t.Fatal("base missing, or the later transactions present")
		}
		t.Logf("restored to %d: %d of %d writes", mid, k, len(tl.writes))
	})
	t.Run("second before the transaction", func(t *testing.T) {
		got := restore(t, tl.txSecond-1)
		if pairs(t, got, "tx:1", "tx:2") != 0 || pairs(t, got, "lua:1", "lua:2") != 0 || writerKeys(t, got, tl.writes) != len(tl.writes) {
			t.Fatal("transaction present, or writes missing")
		}
	})
	t.Run("FLUSHALL rolled back", func(t *testing.T) {
		got := restore(t, tl.flushAt-1)
		if k := writerKeys(t, got, tl.writes); k != len(tl.writes) {
			t.Fatalf("%d of %d writes", k, len(tl.writes))
		}
		if tx, lua, post := pairs(t, got, "tx:1", "tx:2"), pairs(t, got, "lua:1", "lua:2"), pairs(t, got, "post"); tx != 2 || lua != 2 || post != 0 {
			t.Fatalf("transaction keys %d, script keys %d, post %d; want 2, 2, 0", tx, lua, post)
		}
	})
	t.Run("latest", func(t *testing.T) {
		got := restore(t, Latest)
		if n, _ := got.Client.DBSize(context.Background()).Result(); n != 2 || pairs(t, got, "post", "end") != 2 {
			t.Fatalf("latest holds %d keys, want only post and end", n)
		}
	})
}

func TestRestoreRefuses(t *testing.T) {
	sup := startSup(t)
	r := startAOFRedis(t)
	c := startTestChain(t, r)
	must(t, r.Client.Set(context.Background(), "a", "1", 0).Err())
	nextSecond(t)
	must(t, r.Client.Set(context.Background(), "b", "1", 0).Err())
	chain := c.cut(t, 1)
	p, err := Choose([]Chain{chain}, Latest)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("data directory with data", func(t *testing.T) {
		dir := harness.TempDir(t, "pitr-")
		must(t, os.MkdirAll(filepath.Join(dir, AOFDir), 0o700))
		must(t, os.WriteFile(filepath.Join(dir, AOFDir, "x"), []byte("keep"), 0o600))
		err := Restore(context.Background(), RestoreOptions{Source: c.src, DataDir: dir, Sup: sup}, p)
		if !errors.Is(err, ErrDataExists) {
			t.Fatalf("err = %v, want ErrDataExists", err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, AOFDir, "x")); string(b) != "keep" {
			t.Fatal("data touched")
		}
	})
	for name, corrupt := range map[string]func(){
		"corrupt segment": func() { c.src.segs[p.Segments[1].Name()] = []byte("*1\r\n$4\r\nPING\r\n") },
		"corrupt base":    func() { c.src.base = append([]byte(nil), c.src.base[:len(c.src.base)-1]...) },
	} {
		t.Run(name, func(t *testing.T) {
			corrupt()
			dir := harness.TempDir(t, "pitr-")
			err := Restore(context.Background(), RestoreOptions{Source: c.src, DataDir: dir, Sup: sup}, p)
			if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), c.info.ID) {
				t.Fatalf("err = %v, want ErrIntegrity naming the chain", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("data directory holds %v after a failed restore", entries)
			}
		})
	}
}
