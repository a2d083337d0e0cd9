package backup

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// DefaultProgressInterval is how often a long transfer logs its progress.
const DefaultProgressInterval = 5 * time.Second

// counter adds the bytes read through it to n, which is safe to read
// concurrently (a progress line reads it while the transfer runs).
type counter struct {
	r io.Reader
	n *atomic.Int64
}

// newCounter counts r's bytes into n, or into a counter of its own when n
// is nil.
func newCounter(r io.Reader, n *atomic.Int64) *counter {
	if n == nil {
		n = new(atomic.Int64)
	}
	return &counter{r: r, n: n}
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progress reports a transfer's bytes and rate every interval to the log
// and, when term is not nil, as one updating line on a terminal.
type progress struct {
	log      hclog.Logger
	term     io.Writer
	what     string // "upload", "download", ...
	total    int64  // 0 when unknown
	count    func() int64
	start    time.Time
	stop     chan struct{}
	finished chan struct{}
}

func startProgress(log hclog.Logger, term io.Writer, interval time.Duration, what string, total int64, count func() int64) *progress {
	if interval <= 0 {
		interval = DefaultProgressInterval
	}
	p := &progress{log: log, term: term, what: what, total: total, count: count,
		start: time.Now(), stop: make(chan struct{}), finished: make(chan struct{})}
	go p.loop(interval)
	return p
}

func (p *progress) loop(interval time.Duration) {
	defer close(p.finished)
	t := time.NewTicker(interval)
	defer t.Stop()
	termTick := time.NewTicker(500 * time.Millisecond)
	defer termTick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			n, rate := p.sample()
			p.log.Info("transfer progress", "what", p.what, "bytes", n, "total", p.total,
				"mb_per_s", fmt.Sprintf("%.1f", rate/1e6))
		case <-termTick.C:
			p.line(false)
		}
	}
}

func (p *progress) sample() (int64, float64) {
	n := p.count()
	secs := time.Since(p.start).Seconds()
	if secs <= 0 {
		return n, 0
	}
	return n, float64(n) / secs
}

// line writes the terminal line; final ends it with a newline.
func (p *progress) line(final bool) {
	if p.term == nil {
		return
	}
	n, rate := p.sample()
	pct := ""
	if p.total > 0 {
		pct = fmt.Sprintf(" %3.0f%%", 100*float64(n)/float64(p.total))
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.term, "\r%s: %s%s at %.1f MB/s   %s", p.what, mib(n), pct, rate/1e6, end)
}

// done stops reporting and returns the bytes counted and the elapsed time.
func (p *progress) done() (int64, time.Duration) {
	close(p.stop)
	<-p.finished
	p.line(true)
	return p.count(), time.Since(p.start)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
