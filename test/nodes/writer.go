package nodes

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"

	"github.com/hashicorp/consul/api"
	"github.com/redis/go-redis/v9"
)

// Ack is one write the master acknowledged.
type Ack struct {
	Key string
	At  time.Time
}

// WriterOptions say how a Writer writes.
type WriterOptions struct {
	// Interval is the pause between two writes (default 5ms).
	Interval time.Duration
	// Seed picks among several passing masters, should Consul list more.
	Seed int64
	// Sentinels, when set, makes the writer find the master as most
	// clients do: through these sentinels (go-redis's FailoverClient,
	// which follows +switch-master), instead of Consul. Its keys are
	// "sp:N" and "sw:N".
	Sentinels []string
}

// Writer writes numbered keys, plainly ("p:N", even N) and followed by
// WAIT 1 ("w:N", odd N) side by side, to whatever Consul lists as the
// passing `redis` (or the sentinels name, with WriterOptions.Sentinels),
// and records each write acknowledged: a plain write by its SET reply, a
// WAIT write only when WAIT says one replica has it. SET and WAIT go in
// one pipeline, on one connection: WAIT counts the writes of its own
// connection.
type Writer struct {
	c      *Cluster
	o      WriterOptions
	consul *api.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu            sync.Mutex
	plain, waited []Ack
	errs          int
}

// StartWriter starts writing until Stop.
func (c *Cluster) StartWriter(o WriterOptions) *Writer {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{c: c, o: o, consul: c.Consul.Client, cancel: cancel, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

// Stop stops writing and waits for the last write to end. Idempotent.
func (w *Writer) Stop() {
	w.cancel()
	<-w.done
}

// run writes plainly and with WAIT 1 side by side, so that a WAIT that
// blocks (no replica) does not slow the plain writes.
func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	var wg sync.WaitGroup
	for start := 0; start < 2; start++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, start)
		}()
	}
	wg.Wait()
}

// loop writes keys start, start+2, ... (even: plain, odd: WAIT 1).
func (w *Writer) loop(ctx context.Context, start int) {
	if len(w.o.Sentinels) > 0 {
		w.sentinelLoop(ctx, start)
		return
	}
	rng := rand.New(rand.NewSource(w.o.Seed + int64(start)))
	clients := map[string]*redis.Client{}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	var refreshed time.Time
	var master string
	for i := start; ctx.Err() == nil; i += 2 {
		if time.Since(refreshed) > 100*time.Millisecond {
			master, refreshed = w.pickMaster(ctx, rng), time.Now()
		}
		if master == "" {
			_ = ctxtime.Sleep(ctx, 50*time.Millisecond)
			continue
		}
		cl := clients[master]
		if cl == nil {
			cl = redis.NewClient(&redis.Options{Addr: master, MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
				ReadTimeout: 2 * time.Second, WriteTimeout: time.Second, PoolSize: 2})
			clients[master] = cl
		}
		w.write(ctx, cl, i)
		_ = ctxtime.Sleep(ctx, w.o.Interval)
	}
}

func (w *Writer) pickMaster(ctx context.Context, rng *rand.Rand) string {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	entries, _, err := w.consul.Health().Service("redis", "", true, (&api.QueryOptions{}).WithContext(qctx))
	if err != nil || len(entries) == 0 {
		return ""
	}
	e := entries[rng.Intn(len(entries))]
	return net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port))
}

// sentinelLoop is loop through the sentinels: one FailoverClient. After
// writes have failed for sentinelRefresh it starts a new one with the
// sentinels Consul lists as passing (and the ones it started with), as an
// application that finds its sentinels by a Consul DNS name does when it
// reconnects: once every node of the start has been replaced, the
// sentinels it was given are all gone.
func (w *Writer) sentinelLoop(ctx context.Context, start int) {
	addrs := w.o.Sentinels
	newClient := func() *redis.Client {
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: addrs,
			MaxRetries: -1, DialTimeout: 500 * time.Millisecond, ReadTimeout: 2 * time.Second, WriteTimeout: time.Second, PoolSize: 2})
	}
	cl := newClient()
	defer func() { cl.Close() }()
	ok := time.Now()
	for i := start; ctx.Err() == nil; i += 2 {
		if w.write(ctx, cl, i) == nil {
			ok = time.Now()
		} else if time.Since(ok) > sentinelRefresh {
			if listed := w.passingSentinels(ctx); len(listed) > 0 {
				addrs = append(listed, w.o.Sentinels...)
				cl.Close()
				cl, ok = newClient(), time.Now()
			}
		}
		_ = ctxtime.Sleep(ctx, w.o.Interval)
	}
}

// sentinelRefresh is how long a Sentinel writer's writes fail before it
// asks Consul for the sentinels again.
const sentinelRefresh = 2 * time.Second

// passingSentinels lists the sentinels Consul has as passing.
func (w *Writer) passingSentinels(ctx context.Context) []string {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	entries, _, err := w.consul.Health().Service("redis-sentinel", "", true, (&api.QueryOptions{}).WithContext(qctx))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		out = append(out, net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port)))
	}
	return out
}

func (w *Writer) write(ctx context.Context, cl redis.Cmdable, i int) error {
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	waited := i%2 == 1
	prefix := ""
	if len(w.o.Sentinels) > 0 {
		prefix = "s"
	}
	key := prefix + "p:" + strconv.Itoa(i)
	if waited {
		key = prefix + "w:" + strconv.Itoa(i)
	}
	var set *redis.StatusCmd
	var wait *redis.Cmd
	_, err := cl.Pipelined(wctx, func(p redis.Pipeliner) error {
		set = p.Set(wctx, key, i, 0)
		if waited {
			wait = p.Do(wctx, "wait", 1, 1000) // go-redis's Pipeliner has no Wait
		}
		return nil
	})
	if err == nil {
		err = set.Err()
	}
	if err == nil && waited {
		if n, werr := wait.Int64(); werr != nil || n < 1 {
			err = fmt.Errorf("WAIT 1: no replica acknowledged (%d, %v)", n, werr)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err != nil:
		w.errs++
	case waited:
		w.waited = append(w.waited, Ack{Key: key, At: time.Now()})
	default:
		w.plain = append(w.plain, Ack{Key: key, At: time.Now()})
	}
	return err
}

// Acked returns the writes acknowledged in [from, to): plain and WAIT 1.
func (w *Writer) Acked(from, to time.Time) (plain, waited []Ack) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return between(w.plain, from, to), between(w.waited, from, to)
}

// Errors is how many writes were not acknowledged.
func (w *Writer) Errors() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errs
}

func between(acks []Ack, from, to time.Time) []Ack {
	var out []Ack
	for _, a := range acks {
		if !a.At.Before(from) && a.At.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// Lost returns the acknowledged writes that master does not hold (with
// the value written).
func Lost(ctx context.Context, master *redis.Client, acks []Ack) ([]Ack, error) {
	return readBack(ctx, master, acks, func(a Ack, v any) bool {
		_, n, _ := strings.Cut(a.Key, ":")
		s, ok := v.(string)
		return !ok || s != n
	})
}

// Missing returns the acks whose key master does not hold at all.
func Missing(ctx context.Context, master *redis.Client, acks []Ack) ([]Ack, error) {
	return readBack(ctx, master, acks, func(_ Ack, v any) bool { return v == nil })
}

// readBack reads the keys of acks in batches and returns those bad says
// are wrong.
func readBack(ctx context.Context, master *redis.Client, acks []Ack, bad func(Ack, any) bool) ([]Ack, error) {
	var out []Ack
	for len(acks) > 0 {
		batch := acks[:min(len(acks), 500)]
		acks = acks[len(batch):]
		keys := make([]string, len(batch))
		for i, a := range batch {
			keys[i] = a.Key
		}
		vals, err := master.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("read back %d keys: %w", len(keys), err)
		}
		for i, v := range vals {
			if bad(batch[i], v) {
				out = append(out, batch[i])
			}
		}
	}
	return out, nil
}
