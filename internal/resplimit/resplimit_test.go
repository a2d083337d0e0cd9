package resplimit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// peerConn is a net.Conn whose peer sends reply, at most chunk bytes per
// Read (0: all it can); what is written to it is discarded.
type peerConn struct {
	r     io.Reader
	chunk int
}

func newPeer(reply string, chunk int) *peerConn {
	return &peerConn{r: strings.NewReader(reply), chunk: chunk}
}

func (c *peerConn) Read(b []byte) (int, error) {
	if c.chunk > 0 && len(b) > c.chunk {
		b = b[:c.chunk]
	}
	return c.r.Read(b)
}
func (c *peerConn) Write(b []byte) (int, error) { return len(b), nil }
func (c *peerConn) Close() error                { return nil }
func (c *peerConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *peerConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 26379}
}
func (c *peerConn) SetDeadline(time.Time) error      { return nil }
func (c *peerConn) SetReadDeadline(time.Time) error  { return nil }
func (c *peerConn) SetWriteDeadline(time.Time) error { return nil }

var small = Limits{MaxBulk: 4096, MaxElements: 256, MaxReply: 64 << 10, MaxDepth: 8, MaxLine: 1024}

// valid are replies Redis and Sentinel send; they must pass unchanged.
var valid = []string{
	"+OK\r\n", "-ERR no such master\r\n", ":42\r\n", "$5\r\nhello\r\n", "$0\r\n\r\n", "$-1\r\n", "*-1\r\n", "*0\r\n",
	"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n",
	"*3\r\n$8\r\npmessage\r\n$1\r\n*\r\n$14\r\n+switch-master\r\n",
	"%2\r\n+name\r\n$8\r\nmymaster\r\n+flags\r\n*2\r\n+master\r\n+s_down\r\n",
	"_\r\n,3.14\r\n#t\r\n(12345678901234567890\r\n=8\r\ntxt:abcd\r\n!3\r\nERR\r\n~1\r\n:1\r\n>2\r\n+a\r\n+b\r\n",
	"|1\r\n+key\r\n+val\r\n*1\r\n:1\r\n", "|0\r\n:7\r\n",
	"$4096\r\n" + strings.Repeat("x", 4096) + "\r\n",
	"*256\r\n" + strings.Repeat(":1\r\n", 256),
	"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", // depth 8
}

// hostile are replies that must be rejected, with what the error says.
var hostile = []struct{ name, reply, says string }{
	{"bulk near 2^63 (makeslice panic)", "*2\r\n$9223372036854775806\r\n", "bulk string of 9223372036854775806 bytes (limit 4096)"},
	{"6 GB bulk (out of memory)", "$6000000000\r\n", "bulk string of 6000000000 bytes"},
	{"bulk past int64", "$99999999999999999999\r\n", "not a number in range"},
	{"negative bulk", "$-2\r\n", "negative length -2"},
	{"negative array", "*-5\r\n", "array of negative length -5"},
	{"huge array", "*1000000000\r\n", "array of 1000000000 elements (limit 256)"},
	{"huge map", "%200\r\n", "map of 200 elements (limit 256)"},
	{"huge set", "~100000\r\n", "set of 100000 elements"},
	{"huge push", ">100000\r\n", "push of 100000 elements"},
	{"huge blob error", "!100000\r\n", "blob error of 100000 bytes"},
	{"huge verbatim", "=100000\r\n", "verbatim string of 100000 bytes"},
	{"garbage type byte", "X-garbage\r\n", `type byte 'X'`},
	{"streamed bulk", "$?\r\n", "not a number in range"},
	{"no CRLF", "+OK\n", "not a RESP line ending in CRLF"},
	{"empty line", "\r\n", "not a RESP line"},
	{"endless line", "+" + strings.Repeat("a", 5000), "line longer than 1024 bytes"},
	{"endless nesting", strings.Repeat("*1\r\n", 100), "deeper than 8"},
	{"endless array of arrays", strings.Repeat("*200\r\n", 6), "reply larger than 65536 bytes"},
	{"many bulks past the reply budget", "*100\r\n" + strings.Repeat("$4000\r\n"+strings.Repeat("y", 4000)+"\r\n", 20), "reply larger than"},
	{"garbage after a good reply", "+OK\r\n\x00\x01\x02\r\n", "type byte '\\x00'"},
}

func TestValidRepliesPassUnchanged(t *testing.T) {
	for _, chunk := range []int{0, 1, 7} {
		for _, reply := range valid {
			c := Wrap(newPeer(reply, chunk), small)
			got, err := io.ReadAll(c)
			if err != nil || string(got) != reply {
				t.Errorf("chunk %d: %.60q read as %.60q, %v", chunk, reply, got, err)
			}
		}
	}
}

func TestHostileRepliesAreRejectedBeforeTheHeader(t *testing.T) {
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			for _, chunk := range []int{0, 1, 5} {
				got, err := io.ReadAll(Wrap(newPeer(h.reply, chunk), small))
				var re *Error
				if !errors.As(err, &re) || !errors.Is(err, ErrRejected) {
					t.Fatalf("chunk %d: read %d bytes, error %v; want an *Error", chunk, len(got), err)
				}
				if !strings.Contains(err.Error(), h.says) || !strings.Contains(err.Error(), "192.0.2.1:26379") {
					t.Errorf("chunk %d: error %q does not name the peer and say %q", chunk, err, h.says)
				}
				if !strings.HasPrefix(h.reply, string(got)) || bytes.Contains(got, []byte("9223372036854775806")) {
					t.Errorf("chunk %d: passed %.60q", chunk, got)
				}
			}
		})
	}
}

// TestGoRedisReadsHostileRepliesSafely runs go-redis itself on each hostile
// reply through Wrap: an error naming the peer, no panic.
func TestGoRedisReadsHostileRepliesSafely(t *testing.T) {
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			if strings.HasPrefix(h.name, "garbage after") {
				return // go-redis stops at the good reply; the next read fails (see above)
			}
			if err := doThrough(h.reply, small); !errors.Is(err, ErrRejected) {
				t.Errorf("go-redis returned %v, want the rejection", err)
			}
		})
	}
	for _, reply := range valid[:5] {
		if err := doThrough(reply, small); err != nil && !errors.Is(err, redis.Nil) && !strings.Contains(err.Error(), "no such master") {
			t.Errorf("valid %q: %v", reply, err)
		}
	}
}

// noHello is how a server without HELLO answers it: go-redis then reads
// the next reply as its command's.
const noHello = "-ERR unknown command 'HELLO'\r\n"

// doThrough sends one command on a go-redis client whose server answers
// HELLO with noHello and the command with reply, read through Wrap with l.
func doThrough(reply string, l Limits) error {
	return doRaw(noHello+reply, l)
}

// doRaw is doThrough with the server's whole answer, HELLO's included.
func doRaw(reply string, l Limits) error {
	rdb := redis.NewClient(&redis.Options{
		Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1,
		Dialer: func(context.Context, string, string) (net.Conn, error) { return Wrap(newPeer(reply, 0), l), nil },
	})
	defer rdb.Close()
	return rdb.Do(context.Background(), "PING").Err()
}

// FuzzGoRedisThroughWrap feeds go-redis arbitrary replies through Wrap:
// it must never panic, and never allocate much more than small allows.
// go test -fuzz FuzzGoRedisThroughWrap -fuzztime 30s ./internal/resplimit
func FuzzGoRedisThroughWrap(f *testing.F) {
	for _, r := range valid {
		f.Add([]byte(r))
	}
	for _, h := range hostile {
		f.Add([]byte(h.reply))
	}
	const bound = 8 << 20 // small.MaxReply and go-redis's own buffers, with room
	f.Fuzz(func(t *testing.T, reply []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_ = doThrough(string(reply), small)
		_ = doRaw(string(reply), small) // as the reply to HELLO
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > bound {
			t.Errorf("reading %.80q allocated %d bytes (bound %d)", reply, n, bound)
		}
	})
}

// TestWithoutWrapGoRedisAllocatesWhatIsDeclared keeps the fuzz bound
// honest: the same measure sees go-redis allocate a declared 64 MiB.
func TestWithoutWrapGoRedisAllocatesWhatIsDeclared(t *testing.T) {
	reply := noHello + "$67108864\r\n"
	rdb := redis.NewClient(&redis.Options{Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1,
		Dialer: func(context.Context, string, string) (net.Conn, error) { return newPeer(reply, 0), nil }})
	defer rdb.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_ = rdb.Do(context.Background(), "PING").Err()
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n < 64<<20 {
		t.Errorf("go-redis allocated %d bytes for a declared 64 MiB bulk; the fuzz bound measures nothing", n)
	}
}
