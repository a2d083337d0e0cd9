package nodes

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
	"github.com/redis/go-redis/v9"
)

// SeqWrite is one SET n:<N> <N> of a SeqWriter: when it was sent and, if
// it was acknowledged (OK), when.
type SeqWrite struct {
	N           int
	Sent, Acked time.Time
	OK          bool
}

// SeqWriter sets n:1, n:2, ... one at a time through the sentinels (as a
// client follows a failover) and records every write, so that a restore
// to a point in time can be checked write by write.
type SeqWriter struct {
	cl     *redis.Client
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	ws     []SeqWrite
}

// StartSeqWriter starts writing until Stop.
func StartSeqWriter(sentinels []string) *SeqWriter {
	cl := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: sentinels,
		MaxRetries: -1, DialTimeout: 500 * time.Millisecond, ReadTimeout: 2 * time.Second, WriteTimeout: time.Second, PoolSize: 2})
	ctx, cancel := context.WithCancel(context.Background())
	w := &SeqWriter{cl: cl, cancel: cancel, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

func (w *SeqWriter) run(ctx context.Context) {
	defer close(w.done)
	for n := 1; ctx.Err() == nil; n++ {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		sw := SeqWrite{N: n, Sent: time.Now()}
		err := w.cl.Set(wctx, "n:"+strconv.Itoa(n), n, 0).Err()
		cancel()
		sw.Acked, sw.OK = time.Now(), err == nil
		w.mu.Lock()
		w.ws = append(w.ws, sw)
		w.mu.Unlock()
		pause := 2 * time.Millisecond
		if err != nil {
			pause = 20 * time.Millisecond
		}
		_ = ctxtime.Sleep(ctx, pause)
	}
}

// Stop stops writing (idempotent) and returns every write.
func (w *SeqWriter) Stop() []SeqWrite {
	w.cancel()
	<-w.done
	return w.Writes()
}

// Writes returns the writes so far.
func (w *SeqWriter) Writes() []SeqWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]SeqWrite(nil), w.ws...)
}

// Close releases the client (after Stop).
func (w *SeqWriter) Close() { w.cl.Close() }

// AcksAfter waits until a write sent after at is acknowledged.
func (w *SeqWriter) AcksAfter(t testing.TB, at time.Time, d time.Duration) {
	t.Helper()
	WaitFor(t, d, func() error {
		ws := w.Writes()
		for i := len(ws) - 1; i >= 0 && ws[i].Sent.After(at); i-- {
			if ws[i].OK {
				return nil
			}
		}
		return fmt.Errorf("no write sent after %s acknowledged yet", at.Format(time.StampMilli))
	})
}

// PresentWrites returns which of the writes cl holds; a key holding
// another value than its number is an error.
func PresentWrites(ctx context.Context, cl *redis.Client, ws []SeqWrite) (map[int]bool, error) {
	present := map[int]bool{}
	for from := 0; from < len(ws); from += 1000 {
		batch := ws[from:min(from+1000, len(ws))]
		keys := make([]string, len(batch))
		for i, w := range batch {
			keys[i] = "n:" + strconv.Itoa(w.N)
		}
		vals, err := cl.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("read back %d writes: %w", len(keys), err)
		}
		for i, v := range vals {
			if v == nil {
				continue
			}
			if v != strconv.Itoa(batch[i].N) {
				return nil, fmt.Errorf("n:%d = %v", batch[i].N, v)
			}
			present[batch[i].N] = true
		}
	}
	return present, nil
}
