package pitr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/supervisor"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/suptest"
	"github.com/hashicorp/go-hclog"
)

// startSup starts a supervisor for the test (one per process at a time).
func startSup(t *testing.T) *supervisor.Supervisor {
	t.Helper()
	return suptest.Start(t, hclog.NewNullLogger())
}

// memSource holds a chain's objects in memory.
type memSource struct {
	base []byte
	segs map[string][]byte
}

func (m *memSource) OpenBase(context.Context, ChainInfo) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(m.base)), nil
}

func (m *memSource) OpenSegment(_ context.Context, s Segment) (io.ReadCloser, error) {
	b, ok := m.segs[s.Name()]
	if !ok {
		return nil, fmt.Errorf("%s: not found", s.Name())
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// testChain is a chain taken from a real redis by hand, as the shipper
// takes one: BGREWRITEAOF, a hard link to the new incr file at once, the
// base once the rewrite is done.
type testChain struct {
	info ChainInfo
	src  *memSource
	incr string // hard link to the incr file
}

func info(t *testing.T, r *harness.Redis, field string) string {
	t.Helper()
	s, err := r.Client.Info(context.Background(), "persistence").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO persistence has no %s", field)
	return ""
}

func startTestChain(t *testing.T, r *harness.Redis) *testChain {
	t.Helper()
	ctx := context.Background()
	if err := r.Client.BgRewriteAOF(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	c := &testChain{src: &memSource{segs: map[string][]byte{}}}
	c.info.BaseTS = time.Now().Unix()
	c.incr = filepath.Join(harness.TempDir(t, "chain-"), "incr.aof")
	if err := os.Link(currentIncr(t, r.Dir), c.incr); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 20*time.Second, func() error {
		if info(t, r, "aof_rewrite_in_progress") != "0" || info(t, r, "aof_rewrite_scheduled") != "0" {
			return errors.New("rewrite in progress")
		}
		return nil
	})
	f, err := os.Open(filepath.Join(r.Dir, "appendonlydir", "appendonly.aof.manifest"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ParseManifest(f)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := m.Base()
	if c.src.base, err = os.ReadFile(filepath.Join(r.Dir, "appendonlydir", base.Name)); err != nil {
		t.Fatal(err)
	}
	id, _ := NewChainID(time.Now())
	c.info.ID, c.info.Base, c.info.BaseSize, c.info.BaseSHA256 = id, "base.rdb", int64(len(c.src.base)), sum(c.src.base)
	if err := c.info.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// cut reads the incr file and cuts it into segments wherever a piece of
// the given size ends (at the last boundary before it).
func (c *testChain) cut(t *testing.T, piece int) Chain {
	t.Helper()
	data, err := os.ReadFile(c.incr)
	if err != nil {
		t.Fatal(err)
	}
	s := NewScanner(State{})
	var segs []Segment
	for off := 0; off < len(data); off += piece {
		mustWrite(t, s, data[off:min(off+piece, len(data))])
		if r := s.Cut(); r.Len() > 0 {
			seq := int64(len(segs) + 1)
			g := Segment{Chain: c.info.ID, FirstSeq: seq, LastSeq: seq, Range: r, SHA256: sum(data[r.Start:r.End])}
			c.src.segs[g.Name()] = data[r.Start:r.End]
			segs = append(segs, g)
		}
	}
	if s.Boundary() != int64(len(data)) {
		t.Fatalf("incr file ends at %d, last boundary %d", len(data), s.Boundary())
	}
	return Chain{Info: c.info, Segments: segs}
}

// restoreAndStart restores p into a fresh data directory and starts redis
// on it.
func restoreAndStart(t *testing.T, sup *supervisor.Supervisor, src Source, p Plan) *harness.Redis {
	t.Helper()
	dir := harness.TempDir(t, "pitr-")
	if err := Restore(context.Background(), RestoreOptions{Source: src, DataDir: dir, Sup: sup}, p); err != nil {
		t.Fatalf("restore to %s: %v", targetString(p.Target), err)
	}
	return harness.StartRedis(t, harness.RedisOptions{Dir: dir, Extra: []string{"appendonly yes"}})
}

// write is one acknowledged write of n=n.
type write struct {
	n           int
	sent, acked time.Time
}

// writeFor sets n:<n> = n one after the other until the clock passes
// into the second after `until`.
func writeFor(t *testing.T, r *harness.Redis, until int64) []write {
	t.Helper()
	ctx := context.Background()
	var ws []write
	for n := 1; time.Now().Unix() <= until; n++ {
		w := write{n: n, sent: time.Now()}
		if err := r.Client.Set(ctx, "n:"+strconv.Itoa(n), n, 0).Err(); err != nil {
			t.Fatal(err)
		}
		w.acked = time.Now()
		ws = append(ws, w)
	}
	return ws
}

// writerKeys returns how many of the writes are present, checking they
// are a prefix n:1..n:k with the right values.
func writerKeys(t *testing.T, r *harness.Redis, ws []write) int {
	t.Helper()
	k := 0
	for from := 0; from < len(ws); from += 1000 {
		keys := make([]string, 0, 1000)
		for _, w := range ws[from:min(from+1000, len(ws))] {
			keys = append(keys, "n:"+strconv.Itoa(w.n))
		}
		vals, err := r.Client.MGet(context.Background(), keys...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			n := from + i + 1
			switch {
			case v == nil:
			case n != k+1 || v != strconv.Itoa(n):
				t.Fatalf("n:%d = %v after n:%d present: the writes present are not a prefix", n, v, k)
			default:
				k = n
			}
		}
	}
	return k
}
