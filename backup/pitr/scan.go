package pitr

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrAOF: the bytes are not an AOF command stream.
var ErrAOF = errors.New("invalid AOF command stream")

// Bounds of the scanner. It never allocates per argument, so these only
// keep numbers sane: Redis's proto-max-bulk-len is 512 MiB by default.
const (
	maxBulkLen     = 1 << 34
	maxArgs        = 1 << 31
	maxAnnotation  = 256
	maxNumberBytes = 20
	cmdNameBytes   = 16
)

// Range is a run of whole commands: bytes [Start, End) of the stream,
// ending outside a MULTI. FirstTS is the #TS in effect for its first
// command and LastTS for its last (0 when no #TS had been seen).
type Range struct {
	Start, End      int64
	FirstTS, LastTS int64
	Commands        int64
}

// Len is End-Start.
func (r Range) Len() int64 { return r.End - r.Start }

// State is where a scan may resume: a boundary outside MULTI, and the
// #TS in effect there.
type State struct {
	Offset int64
	TS     int64
}

type scanState uint8

const (
	sItem scanState = iota
	sAnnot
	sArrLen
	sArrLF
	sBulkHdr
	sBulkLen
	sBulkLF
	sBulkData
	sBulkCR
	sBulkLF2
)

// Scanner finds command boundaries in an AOF byte stream fed to it in
// pieces of any size (Write). It knows RESP arrays of bulk strings, the
// annotations Redis writes ("#TS:<unix seconds>\r\n"), and MULTI/EXEC: a
// boundary is the end of a command outside a transaction. Cut hands out
// the whole commands scanned since the previous cut. A Scanner is not safe
// for concurrent use; after an error it stays failed.
type Scanner struct {
	off      int64 // bytes consumed
	ts       int64 // #TS in effect at off
	boundary int64 // end of the last command outside MULTI
	cur      Range // since the last cut, up to boundary
	openTS   int64 // TS at the first command after boundary; -1 none yet
	inMulti  bool
	err      error

	st      scanState
	num     int64 // number being read
	digits  int
	pending int64 // commands ended since boundary (inside MULTI)
	args    int64 // arguments left in this command
	argIdx  int64
	bulk    int64 // bytes of bulk data left
	name    []byte
	annot   []byte
	cmdOpen bool // a command has started and not finished
}

// NewScanner starts scanning at a boundary (State{} for the start of a
// file).
func NewScanner(at State) *Scanner {
	return &Scanner{
		off: at.Offset, ts: at.TS, boundary: at.Offset, openTS: -1,
		cur:  Range{Start: at.Offset, End: at.Offset, FirstTS: -1, LastTS: at.TS},
		name: make([]byte, 0, cmdNameBytes), annot: make([]byte, 0, maxAnnotation),
	}
}

// Offset is the number of bytes consumed (including the start offset).
func (s *Scanner) Offset() int64 { return s.off }

// Boundary is the end of the last command outside MULTI.
func (s *Scanner) Boundary() int64 { return s.boundary }

// InMulti reports whether the scan stands inside a transaction.
func (s *Scanner) InMulti() bool { return s.inMulti }

// Err is the error that stopped the scan, if any.
func (s *Scanner) Err() error { return s.err }

// Pending returns the range Cut would return, without cutting.
func (s *Scanner) Pending() Range {
	r := s.cur
	if r.FirstTS < 0 {
		r.FirstTS = r.LastTS
	}
	return r
}

// Cut returns the whole commands since the previous cut (possibly an
// empty range) and starts the next range at the boundary.
func (s *Scanner) Cut() Range {
	r := s.Pending()
	s.cur = Range{Start: r.End, End: r.End, FirstTS: s.openTS, LastTS: r.LastTS}
	return r
}

// State returns the resume point at the last boundary.
func (s *Scanner) State() State { return State{Offset: s.boundary, TS: s.cur.LastTS} }

// Write scans p. It returns len(p), or the error that stopped the scan.
func (s *Scanner) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	for i := 0; i < len(p); {
		n, err := s.step(p[i:])
		s.off += int64(n)
		i += n
		if err != nil {
			s.err = fmt.Errorf("%w: at byte %d: %w", ErrAOF, s.off, err)
			return i, s.err
		}
	}
	return len(p), nil
}

// step consumes at least one byte of p (all of a bulk's data it can).
func (s *Scanner) step(p []byte) (int, error) {
	c := p[0]
	switch s.st {
	case sItem:
		if num, n, ok := header(p, maxArgs); ok && c == '*' && num >= 1 {
			_ = s.item(c) // '*' opens a command
			s.st, s.args, s.argIdx, s.name = sBulkHdr, num, 0, s.name[:0]
			return n, nil
		}
		return 1, s.item(c)
	case sAnnot:
		return 1, s.annotation(c)
	case sArrLen, sBulkLen:
		return 1, s.number(c)
	case sArrLF, sBulkLF, sBulkLF2:
		return 1, s.lf(c)
	case sBulkHdr:
		if num, n, ok := header(p, maxBulkLen); ok && c == '$' {
			s.st, s.bulk = sBulkData, num
			if num == 0 {
				s.st = sBulkCR
			}
			return n, nil
		}
		if c != '$' {
			return 1, fmt.Errorf("expected '$' (a bulk string), got %q", c)
		}
		s.st, s.num, s.digits = sBulkLen, 0, 0
		return 1, nil
	case sBulkData:
		n := int(min(int64(len(p)), s.bulk))
		if s.argIdx == 0 && len(s.name) < cmdNameBytes {
			s.name = append(s.name, p[:min(n, cmdNameBytes-len(s.name))]...)
		}
		s.bulk -= int64(n)
		if s.bulk == 0 {
			s.st = sBulkCR
			if n < len(p) && p[n] == '\r' {
				s.st = sBulkLF2
				n++
			}
		}
		return n, nil
	case sBulkCR:
		if c != '\r' {
			return 1, fmt.Errorf("bulk string not followed by CRLF (got %q)", c)
		}
		s.st = sBulkLF2
		return 1, nil
	}
	return 1, fmt.Errorf("scanner in unknown state %d", s.st)
}

// header reads a whole "<prefix><digits>\r\n" at the start of p in one
// step, when all of it is there and its number is at most limit; when
// not, ok is false and the byte-at-a-time path reads it (and names what
// is wrong). Headers are a third of an AOF of small SETs.
func header(p []byte, limit int64) (num int64, n int, ok bool) {
	i := 1
	for ; i < len(p) && i <= maxNumberBytes && p[i] >= '0' && p[i] <= '9'; i++ {
		if num = num*10 + int64(p[i]-'0'); num > limit {
			return 0, 0, false
		}
	}
	if i == 1 || i+1 >= len(p) || p[i] != '\r' || p[i+1] != '\n' {
		return 0, 0, false
	}
	return num, i + 2, true
}

func (s *Scanner) item(c byte) error {
	switch c {
	case '*':
		s.st, s.num, s.digits = sArrLen, 0, 0
		if !s.cmdOpen {
			s.cmdOpen = true
			if s.cur.FirstTS < 0 {
				s.cur.FirstTS = s.ts
			}
			if s.openTS < 0 {
				s.openTS = s.ts
			}
		}
		return nil
	case '#':
		s.st, s.annot = sAnnot, s.annot[:0]
		return nil
	}
	return fmt.Errorf("expected '*' (a command) or '#' (an annotation), got %q", c)
}

func (s *Scanner) annotation(c byte) error {
	if c != '\n' {
		if len(s.annot) >= maxAnnotation {
			return fmt.Errorf("annotation longer than %d bytes", maxAnnotation)
		}
		s.annot = append(s.annot, c)
		return nil
	}
	s.st = sItem
	a := s.annot
	if len(a) == 0 || a[len(a)-1] != '\r' {
		return errors.New("annotation not ended by CRLF")
	}
	a = a[:len(a)-1]
	if len(a) > 3 && string(a[:3]) == "TS:" {
		ts, err := strconv.ParseInt(string(a[3:]), 10, 64)
		if err != nil || ts < 0 {
			return fmt.Errorf("bad timestamp annotation %q", a)
		}
		s.ts = ts
	}
	return nil
}

func (s *Scanner) number(c byte) error {
	switch {
	case c >= '0' && c <= '9':
		if s.digits++; s.digits > maxNumberBytes {
			return errors.New("length with too many digits")
		}
		s.num = s.num*10 + int64(c-'0')
		if s.num > maxBulkLen {
			return fmt.Errorf("length over %d", int64(maxBulkLen))
		}
		return nil
	case c == '\r' && s.digits > 0:
		if s.st == sArrLen {
			if s.num < 1 || s.num > maxArgs {
				return fmt.Errorf("command with %d arguments", s.num)
			}
			s.st, s.args, s.argIdx, s.name = sArrLF, s.num, -1, s.name[:0]
		} else {
			s.st, s.bulk = sBulkLF, s.num
		}
		return nil
	}
	return fmt.Errorf("bad length byte %q", c)
}

func (s *Scanner) lf(c byte) error {
	if c != '\n' {
		return fmt.Errorf("expected LF, got %q", c)
	}
	switch s.st {
	case sArrLF:
		s.st = sBulkHdr
		s.argIdx++
	case sBulkLF:
		s.st = sBulkData
		if s.bulk == 0 {
			s.st = sBulkCR
		}
	case sBulkLF2:
		s.args--
		if s.args > 0 {
			s.st = sBulkHdr
			s.argIdx++
			return nil
		}
		s.endCommand()
	}
	return nil
}

func (s *Scanner) endCommand() {
	s.st, s.cmdOpen = sItem, false
	s.pending++
	switch {
	case eqFold(s.name, "multi"):
		s.inMulti = true
	case eqFold(s.name, "exec"), eqFold(s.name, "discard"):
		s.inMulti = false
	}
	if !s.inMulti {
		s.boundary = s.off + 1 // the LF being consumed
		s.cur.End, s.cur.LastTS = s.boundary, s.ts
		s.cur.Commands += s.pending
		s.pending, s.openTS = 0, -1
	}
}

func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
