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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	return fmt.Errorf("%s: %w (more than %s); %s", b.what, ErrTooLarge, Size(b.limit), b.fix)
}

func (b *body) Close() error { return b.rc.Close() }

// Transport is an http.RoundTripper whose every response body is bounded
// to Limit bytes (see Body; what is the request's method and URL).
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
	if err != nil || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	if resp.ContentLength > t.Limit {
		// http.Client names the method and URL of a failed round trip.
		resp.Body.Close()
		return nil, fmt.Errorf("%w (%s declared, more than %s); %s",
			ErrTooLarge, Size(resp.ContentLength), Size(t.Limit), t.Fix)
	}
	resp.Body = Body(resp.Body, t.Limit, r.Method+" "+r.URL.Redacted(), t.Fix)
	return resp, nil
}

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
