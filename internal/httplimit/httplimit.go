// Package httplimit bounds what an HTTP reply can make this process read.
// A Consul agent, a node's HTTP API and whatever answers on their
// addresses are peers, and peers are untrusted input (ARCHITECTURE rule
// 11): a reply that never ends, or one of gigabytes, must be an error,
// not PID 1 running out of memory. Libraries that read the body
// themselves (consul/api decodes every reply with json.NewDecoder) are
// bounded below them, at the client's transport ([Transport]); our own
// reads wrap the body ([Body]) or decode through [DecodeJSON].
package httplimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// ErrTooLarge is wrapped by the error a bounded body returns once a reply
// has more bytes than its limit.
var ErrTooLarge = errors.New("the reply is larger than this program reads")

// Body returns rc bounded to limit bytes: the read that would go past
// them fails with an error that wraps ErrTooLarge, names what was read
// (for example "GET http://127.0.0.1:8500/v1/kv/x") and ends with fix,
// what the user can do about it. Closing it closes rc.
func Body(rc io.ReadCloser, limit int64, what, fix string) io.ReadCloser {
	return &body{rc: rc, left: limit, limit: limit, what: what, fix: fix}
}

type body struct {
	rc          io.ReadCloser
	left, limit int64
	what, fix   string
	watch       *watch // nil unless the request's context was watched
}

func (b *body) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.left <= 0 {
		// At the limit: one more byte tells the end of the reply from
		// a reply too large.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, b.tooLarge()
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *body) tooLarge() error {
	err := fmt.Errorf("%s: %w (more than %s); %s", b.what, ErrTooLarge, Size(b.limit), b.fix)
	b.watch.record(err)
	return err
}

func (b *body) Close() error { return b.rc.Close() }

// Transport is an http.RoundTripper whose every response body is bounded
// to Limit bytes (see Body; what is the request's method and URL), but a
// successful reply to a request for Data.
type Transport struct {
	// Next does the round trip; nil means http.DefaultTransport.
	Next http.RoundTripper
	// Limit is the most bytes one response body may have.
	Limit int64
	// Fix ends the error: what the user can do about a reply too large.
	Fix string
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	return Response(r, resp, t.Limit, t.Fix)
}

// Response bounds the body of resp, the reply to r, to limit bytes (see
// Body; what is r's method and URL), for a client that is not an
// http.RoundTripper. A reply that declares more is closed and is an error
// wrapping ErrTooLarge, before anything is read.
func Response(r *http.Request, resp *http.Response, limit int64, fix string) (*http.Response, error) {
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode/100 == 2 && isData(r.Context()) {
		return resp, nil
	}
	if resp.ContentLength > limit {
		// http.Client names the method and URL of a failed round trip.
		resp.Body.Close()
		return nil, fmt.Errorf("%w (%s declared, more than %s); %s",
			ErrTooLarge, Size(resp.ContentLength), Size(limit), fix)
	}
	resp.Body = &body{rc: resp.Body, left: limit, limit: limit, what: r.Method + " " + r.URL.Redacted(), fix: fix,
		watch: watchOf(r.Context())}
	return resp, nil
}

type watchKey struct{}

// watch keeps the first ErrTooLarge of the replies to a watched context.
type watch struct {
	mu  sync.Mutex
	err error
}

// Watch returns ctx and a function that returns the first error wrapping
// ErrTooLarge that a reply to a request made with ctx ran into, for a
// library that reports a reply cut short as a parse error of its own and
// drops the cause (triton-go reads a listing line by line, and a cut line
// is "unexpected end of JSON input").
func Watch(ctx context.Context) (context.Context, func() error) {
	w := &watch{}
	return context.WithValue(ctx, watchKey{}, w), w.first
}

func watchOf(ctx context.Context) *watch {
	w, _ := ctx.Value(watchKey{}).(*watch)
	return w
}

func (w *watch) record(err error) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *watch) first() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

type dataKey struct{}

// Data returns ctx marking the requests made with it as downloads of data
// whose size the caller checks itself (a backup being restored is read
// through a reader that checks its length and its digest, and streamed
// to disk): Transport and Response leave the body of a successful reply
// to such a request unbounded. An error reply is bounded still.
func Data(ctx context.Context) context.Context { return context.WithValue(ctx, dataKey{}, true) }

func isData(ctx context.Context) bool { return ctx.Value(dataKey{}) != nil }

// DecodeJSON decodes one JSON value of at most limit bytes from r into v;
// a longer one is an error wrapping ErrTooLarge (see Body).
func DecodeJSON(r io.Reader, limit int64, what, fix string, v any) error {
	if err := json.NewDecoder(Body(io.NopCloser(r), limit, what, fix)).Decode(v); err != nil {
		if errors.Is(err, ErrTooLarge) {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Size is n bytes for people: "4 MiB", "512 KiB", "100 bytes".
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
