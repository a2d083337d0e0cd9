package resplimit

import (
	"bytes"
	"fmt"
	"strconv"
)

// frame is an open aggregate: how many elements are still to come, and
// whether it is an attribute (which annotates the value after it and so
// does not count as an element of its parent).
type frame struct {
	left int64
	attr bool
}

// parser follows a RESP2/RESP3 stream across reads. It keeps no bytes: a
// partial line is scanned again (from where the last search stopped) once
// more bytes arrive.
type parser struct {
	lim   Limits
	bulk  int64   // bytes of bulk payload (with its CRLF) still to pass
	stack []frame // open aggregates, outermost first
	used  int64   // what the current reply has been charged
	seen  int     // bytes of the pending partial line already searched for '\n'
}

// scan checks b, which starts where the last scan stopped, and returns
// how many bytes of it passed; the rest is a partial line. reason is
// non-empty when the stream must be rejected at b[n:].
func (p *parser) scan(b []byte) (n int, reason string) {
	for n < len(b) {
		if p.bulk > 0 {
			k := min(p.bulk, int64(len(b)-n))
			n += int(k)
			if p.bulk -= k; p.bulk == 0 {
				p.done()
			}
			continue
		}
		i := bytes.IndexByte(b[n+p.seen:], '\n')
		if i < 0 {
			if p.seen = len(b) - n; p.seen > p.lim.MaxLine+1 {
				return n, fmt.Sprintf("sent a line longer than %d bytes", p.lim.MaxLine)
			}
			return n, ""
		}
		end := n + p.seen + i + 1
		p.seen = 0
		if reason := p.line(b[n:end]); reason != "" {
			return n, reason
		}
		n = end
	}
	return n, ""
}

// line checks one whole line, "\n" included.
func (p *parser) line(l []byte) string {
	if len(l) > p.lim.MaxLine+2 {
		return fmt.Sprintf("sent a line longer than %d bytes", p.lim.MaxLine)
	}
	if len(l) < 3 || l[len(l)-2] != '\r' {
		return fmt.Sprintf("sent %.40q, not a RESP line ending in CRLF", l)
	}
	if r := p.charge(int64(len(l))); r != "" {
		return r
	}
	t, body := l[0], l[1:len(l)-2]
	switch t {
	case '+', '-', ':', ',', '#', '(', '_': // simple string, error, integer, double, boolean, big number, null
		p.done()
		return ""
	case '$', '!', '=', '*', '~', '>', '%', '|':
		n, r := length(t, body)
		switch {
		case r != "":
			return r
		case n == -1: // null
			p.done()
			return ""
		case t == '$' || t == '!' || t == '=': // bulk string, blob error, verbatim string
			return p.bulkHeader(t, n)
		}
		return p.aggregate(t, n) // array, set, push, map, attribute
	}
	return fmt.Sprintf("sent the type byte %q, which is not RESP (line %.40q)", t, l)
}

// bulkHeader checks a bulk header that declared n >= 0 bytes.
func (p *parser) bulkHeader(t byte, n int64) string {
	if n > p.lim.MaxBulk {
		return fmt.Sprintf("declared a %s of %d bytes (limit %d)", kind(t), n, p.lim.MaxBulk)
	}
	if r := p.charge(n); r != "" {
		return r
	}
	p.bulk = n + 2
	return ""
}

// aggregate checks an aggregate header that declared n >= 0 elements.
func (p *parser) aggregate(t byte, n int64) string {
	switch {
	case n > p.lim.MaxElements || (t == '%' || t == '|') && 2*n > p.lim.MaxElements:
		return fmt.Sprintf("declared a %s of %d elements (limit %d)", kind(t), n, p.lim.MaxElements)
	case len(p.stack) >= p.lim.MaxDepth:
		return fmt.Sprintf("nested aggregates deeper than %d", p.lim.MaxDepth)
	}
	if t == '%' || t == '|' {
		n *= 2
	}
	if r := p.charge(n * ElementCost); r != "" {
		return r
	}
	switch {
	case n > 0:
		p.stack = append(p.stack, frame{left: n, attr: t == '|'})
	case t != '|': // an empty attribute leaves the value after it to come
		p.done()
	}
	return ""
}

// length parses a declared length: -1 (null) or more.
func length(t byte, body []byte) (int64, string) {
	n, err := strconv.ParseInt(string(body), 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Sprintf("declared a %s of length %.40q, not a number in range", kind(t), body)
	case n < -1:
		return 0, fmt.Sprintf("declared a %s of negative length %d", kind(t), n)
	}
	return n, ""
}

// charge adds k to the current reply and rejects it past MaxReply.
func (p *parser) charge(k int64) string {
	if p.used += k; p.used > p.lim.MaxReply {
		return fmt.Sprintf("sent a reply larger than %d bytes", p.lim.MaxReply)
	}
	return ""
}

// done records one complete value: it fills a slot of the innermost open
// aggregate, closing those it completes; a complete top-level value ends
// the reply.
func (p *parser) done() {
	for len(p.stack) > 0 {
		top := &p.stack[len(p.stack)-1]
		if top.left--; top.left > 0 {
			return
		}
		attr := top.attr
		p.stack = p.stack[:len(p.stack)-1]
		if attr {
			return // the value the attribute annotates is still to come
		}
	}
	p.used = 0
}

func kind(t byte) string {
	switch t {
	case '$':
		return "bulk string"
	case '!':
		return "blob error"
	case '=':
		return "verbatim string"
	case '*':
		return "array"
	case '~':
		return "set"
	case '>':
		return "push"
	case '%':
		return "map"
	case '|':
		return "attribute"
	}
	return fmt.Sprintf("%q", t)
}
