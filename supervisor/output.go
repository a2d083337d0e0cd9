package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// maxLine is the longest line logged as one message; longer lines are
// logged in pieces.
const maxLine = 64 << 10

// output is the pipe a child writes its stdout and stderr to, with the
// goroutine that logs it line by line and optionally keeps the first limit
// bytes. The write end is handed to the child as an *os.File, so os starts
// no copying goroutines of its own.
type output struct {
	r, w *os.File
	done chan struct{}

	mu        sync.Mutex
	buf       []byte
	limit     int
	truncated bool
}

func newOutput(log hclog.Logger, limit int) (*output, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	o := &output{r: r, w: w, done: make(chan struct{}), limit: limit}
	go o.read(log)
	return o, nil
}

// closeWrite closes the parent's copy of the write end; call it after the
// child started (or failed to), so EOF arrives when the child's copies close.
func (o *output) closeWrite() { o.w.Close() }

// drain waits up to wait for EOF (a daemonised grandchild may hold the pipe
// open forever), then for up to wait more while the pipe still holds bytes
// (a reader starved of CPU), then closes the read end and waits for the
// reader.
func (o *output) drain(wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-o.done:
		return
	case <-t.C:
	}
	deadline := time.Now().Add(wait)
	for o.pending() && time.Now().Before(deadline) {
		select {
		case <-o.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	o.r.Close()
	<-o.done
}

// captured returns a copy of the kept bytes and whether more were written.
func (o *output) captured() ([]byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Clone(o.buf), o.truncated
}

func (o *output) read(log hclog.Logger) {
	defer close(o.done)
	defer o.r.Close()
	br := bufio.NewReaderSize(o.r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		o.keep(line)
		if text := string(bytes.TrimRight(line, "\r\n")); text != "" {
			log.Info(text)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				log.Debug("output read failed", "error", err)
			}
			return
		}
	}
}

func (o *output) keep(p []byte) {
	if o.limit <= 0 || len(p) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	room := o.limit - len(o.buf)
	if len(p) > room {
		p = p[:max(room, 0)]
		o.truncated = true
	}
	o.buf = append(o.buf, p...)
}
