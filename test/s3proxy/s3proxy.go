// Package s3proxy is a TEST PROXY that sits in front of a real S3 server
// (versitygw, started by test/harness) and injects faults into the
// requests that match: an error status, a stall, a connection reset
// midway through an upload, a truncated download. Requests it lets through
// reach the server unchanged (the Host header is kept, so signatures stay
// valid). It records every request, to show that a client retried.
package s3proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind says what a fault does.
type Kind int

const (
	// Status answers Fault.Status (default 503) with an S3 XML error,
	// after reading the request body; the server never sees the request.
	Status Kind = iota + 1
	// Stall reads the body and hangs until the client gives up or the
	// proxy is closed.
	Stall
	// Reset reads After bytes of the request body, then resets the
	// connection (TCP RST); the server never sees the request.
	Reset
	// Truncate forwards a GET, sends After bytes of the body under the
	// full Content-Length and closes the connection.
	Truncate
	// Endless answers a listing (ListObjectsV2) with a reply whose keys do
	// not end: it stops after endlessMax bytes, or when the client hangs
	// up. The server never sees the request.
	Endless
)

// endlessMax is where an Endless reply stops: far past any bound a client
// should keep, short of exhausting the test's memory.
const endlessMax = 64 << 20

// Fault applies to requests whose method (empty: any) and path prefix
// ("/bucket/key..."; path-style) match, and that carry the query parameter
// Query when it is set ("uploadId": a part or a multipart completion;
// "partNumber": a part only).
type Fault struct {
	Method, PathPrefix, Query string
	// Count is how many matching requests it affects; 0 means every one
	// until Clear.
	Count  int
	Kind   Kind
	Status int   // Status: 500, 503...
	After  int64 // Reset, Truncate: bytes transferred first (default 32 KiB)
}

// Request is one request the proxy saw.
type Request struct {
	Method, Path, Query string
	Fault               Kind // 0: forwarded
	Time                time.Time
}

// Proxy is a running proxy, closed by t.Cleanup.
type Proxy struct {
	URL string // http://127.0.0.1:port, the endpoint to give clients

	rp     *httputil.ReverseProxy
	srv    *httptest.Server
	closed chan struct{}

	mu       sync.Mutex
	faults   []*Fault
	requests []Request
}

// New starts a proxy to upstream (http://host:port).
func New(t testing.TB, upstream string) *Proxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("s3proxy: upstream %q: %v", upstream, err)
	}
	p := &Proxy{closed: make(chan struct{})}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // the client signed this host
		},
		FlushInterval: -1,
	}
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	t.Cleanup(func() {
		close(p.closed)
		p.srv.CloseClientConnections()
		p.srv.Close()
	})
	return p
}

// Inject adds a fault; the oldest matching fault applies first.
func (p *Proxy) Inject(f Fault) {
	if f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	if f.After == 0 {
		f.After = 32 << 10
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &f)
}

// Clear removes every fault.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Requests returns what the proxy has seen so far.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

func (p *Proxy) take(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	var got *Fault
	for i, f := range p.faults {
		if (f.Method != "" && f.Method != r.Method) || !strings.HasPrefix(r.URL.Path, f.PathPrefix) ||
			(f.Query != "" && !r.URL.Query().Has(f.Query)) {
			continue
		}
		if f.Count > 0 {
			if f.Count--; f.Count == 0 {
				p.faults = append(p.faults[:i], p.faults[i+1:]...)
			}
		}
		c := *f
		got = &c
		break
	}
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Time: time.Now()}
	if got != nil {
		rec.Fault = got.Kind
	}
	p.requests = append(p.requests, rec)
	return got
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := p.take(r)
	switch {
	case f == nil:
		p.rp.ServeHTTP(w, r)
	case f.Kind == Status:
		_, _ = io.Copy(io.Discard, r.Body)
		code := map[int]string{500: "InternalError", 503: "SlowDown"}[f.Status]
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.Status)
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+
				`</Code><Message>injected fault</Message></Error>`)
		}
	case f.Kind == Stall:
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-p.closed:
		}
	case f.Kind == Reset:
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, f.After))
		hangUp(w, true)
	case f.Kind == Truncate:
		p.rp.ServeHTTP(&truncWriter{ResponseWriter: w, left: f.After}, r)
	case f.Kind == Endless:
		endless(w, r.URL.Query().Get("prefix"))
	}
}

// endless writes a ListObjectsV2 reply of endlessMax bytes of keys under
// prefix, unless the client hangs up first.
func endless(w http.ResponseWriter, prefix string) {
	w.Header().Set("Content-Type", "application/xml")
	_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated>`)
	for n, i := int64(0), 0; n < endlessMax; i++ {
		k, err := fmt.Fprintf(w, "<Contents><Key>%sendless-%012d</Key><Size>1</Size></Contents>", prefix, i)
		if err != nil {
			return
		}
		n += int64(k)
	}
	_, _ = io.WriteString(w, "</ListBucketResult>")
}

// hangUp closes the connection under the response; rst makes it a reset.
func hangUp(w http.ResponseWriter, rst bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // still cut the connection
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// truncWriter passes left bytes of the body, then closes the connection.
type truncWriter struct {
	http.ResponseWriter
	left int64
	cut  bool
}

func (t *truncWriter) Write(b []byte) (int, error) {
	if t.cut {
		return 0, io.ErrClosedPipe
	}
	if int64(len(b)) <= t.left {
		t.left -= int64(len(b))
		return t.ResponseWriter.Write(b)
	}
	n, _ := t.ResponseWriter.Write(b[:t.left])
	t.left, t.cut = 0, true
	_ = http.NewResponseController(t.ResponseWriter).Flush()
	hangUp(t.ResponseWriter, false)
	return n, io.ErrClosedPipe
}

// FlushError flushes until the connection is cut (a hijacked response
// must not be flushed).
func (t *truncWriter) FlushError() error {
	if t.cut {
		return io.ErrClosedPipe
	}
	return http.NewResponseController(t.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the real writer.
func (t *truncWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
