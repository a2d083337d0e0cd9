// Package resplimit bounds what a Redis or Sentinel peer can make go-redis
// allocate. go-redis allocates whatever length a reply declares
// (`$9223372036854775806` panicked in makeslice, a 6 GB bulk ran PID 1 out
// of memory), so the check has to happen below it: [Conn] wraps the
// network connection, follows the RESP2/RESP3 stream it passes through, and
// fails the connection with an [*Error] before go-redis reads a header that
// declares more than [Limits] allow, or that is not RESP at all.
//
// Give it to go-redis through Options.Dialer ([Dialer]). Nothing above the
// connection changes: valid replies pass byte for byte.
package resplimit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Limits bound one connection's replies. Every field must be positive.
type Limits struct {
	// MaxBulk is the longest bulk, blob error or verbatim string, in bytes.
	MaxBulk int64
	// MaxElements is the most elements one array, set, push, map or
	// attribute may declare (a map's pairs count twice).
	MaxElements int64
	// MaxReply bounds one whole reply: its bulk bytes, its lines, and
	// ElementCost per declared element, nested ones included.
	MaxReply int64
	// MaxDepth is the deepest nesting of aggregates (go-redis reads them
	// recursively).
	MaxDepth int
	// MaxLine is the longest line: a header, simple string, error or number.
	MaxLine int
}

// ElementCost is what MaxReply charges per declared aggregate element: about
// what go-redis allocates for one (an interface slot and the value boxed
// in it).
const ElementCost = 64

// Sentinel fits Sentinel's replies: addresses, SENTINEL MASTER/REPLICAS/
// SENTINELS field lists, event messages; a few hundred replicas fit.
var Sentinel = Limits{MaxBulk: 1 << 20, MaxElements: 1 << 16, MaxReply: 16 << 20, MaxDepth: 8, MaxLine: 64 << 10}

// Redis fits what the program asks redis-server: INFO (tens of KiB on a
// busy server), CONFIG GET, ROLE, status replies. It reads no user data.
var Redis = Limits{MaxBulk: 8 << 20, MaxElements: 1 << 16, MaxReply: 16 << 20, MaxDepth: 8, MaxLine: 64 << 10}

// ErrRejected is wrapped by every *Error.
var ErrRejected = errors.New("reply rejected before it was read")

// Error says which peer sent what, and why it was not read.
type Error struct {
	Peer   string // the remote address
	Reason string // "declared a bulk string of 9223372036854775806 bytes (limit 1048576)"
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s %s: a broken or hostile peer (the connection is closed)", ErrRejected, e.Peer, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRejected) true.
func (e *Error) Unwrap() error { return ErrRejected }

// Timeout is false: a rejected reply is not a timeout, so callers that
// probe on timeouts (Sentinel's subscription) reconnect instead.
func (e *Error) Timeout() bool { return false }

// Dialer returns a go-redis Options.Dialer that dials TCP or unix sockets
// as go-redis's default does (timeout from DialTimeout through ctx, 5 min
// keep-alive) and wraps the connection with l.
func Dialer(l Limits, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 5 * time.Minute}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c, l), nil
	}
}

// Conn is a net.Conn whose Read returns only bytes that passed the checks
// of its Limits. It must not be read concurrently (go-redis does not).
type Conn struct {
	net.Conn
	p              parser
	raw            []byte // raw[start:ok] checked, raw[ok:end] not yet (a partial line)
	start, ok, end int
	err            error // the failed check, returned once raw[start:ok] is read
}

// Wrap returns c checked against l. l's fields must be positive.
func Wrap(c net.Conn, l Limits) *Conn {
	return &Conn{Conn: c, p: parser{lim: l}, raw: make([]byte, max(l.MaxLine+2, 16<<10)+16<<10)}
}

// Read returns checked bytes; once a check failed, the bytes before the
// offending header, then the *Error, on every call.
func (c *Conn) Read(b []byte) (int, error) {
	for c.ok == c.start {
		if c.err != nil {
			return 0, c.err
		}
		if err := c.fill(); err != nil && c.ok == c.start {
			return 0, err
		}
	}
	n := copy(b, c.raw[c.start:c.ok])
	c.start += n
	return n, nil
}

// fill reads once from the peer and checks what arrived.
func (c *Conn) fill() error {
	if c.end == len(c.raw) { // only a partial line is left: move it down
		c.end = copy(c.raw, c.raw[c.start:c.end])
		c.ok -= c.start
		c.start = 0
	}
	n, rerr := c.Conn.Read(c.raw[c.end:])
	c.end += n
	k, perr := c.p.scan(c.raw[c.ok:c.end])
	c.ok += k
	if perr != "" {
		c.err = &Error{Peer: peer(c.Conn), Reason: perr}
		_ = c.Conn.Close()
		return c.err
	}
	return rerr
}

func peer(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" {
		return a.String()
	}
	return "the peer"
}
