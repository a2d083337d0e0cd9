package pitr

import (
	"fmt"
	"os"
)

// readFile reads the current incr file's new bytes into the scanner.
func (s *Shipper) readFile() (size int64, err error) {
	c := s.c
	f, err := os.Open(s.aof.incrLink(c.curSeq))
	if err != nil {
		return 0, fmt.Errorf("%w: incr file %d: %w", errBroken, c.curSeq, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() < c.fileOff {
		return 0, fmt.Errorf("%w: the AOF shrank (incr file %d is %d bytes, %d read)", errBroken, c.curSeq, st.Size(), c.fileOff)
	}
	n := min(st.Size()-c.fileOff, maxReadPerTick)
	if n == 0 {
		return st.Size(), nil
	}
	b := c.room(int(n))
	if _, err := f.ReadAt(b, c.fileOff); err != nil {
		return 0, fmt.Errorf("read incr file %d: %w", c.curSeq, err)
	}
	if _, err := c.scan.Write(b); err != nil {
		return 0, fmt.Errorf("%w: %w", errBroken, err)
	}
	c.buf = c.buf[:len(c.buf)+len(b)]
	c.fileOff += n
	return st.Size(), nil
}

// minBack is the array room keeps however little a tick reads.
const minBack = 1 << 20

// room returns n bytes of room right after buf, where the AOF is read
// straight into (one copy of each byte from the page cache, none after:
// pieces are slices of the same array). The array is reused, buf moved
// to its start, once no pending piece refers to it; a new one is made
// when it is too small, or much too large for what ticks read now.
func (c *chain) room(n int) []byte {
	l := len(c.buf)
	if cap(c.buf)-l < n {
		need := l + n
		if len(c.pending) > 0 || cap(c.back) < need || cap(c.back) > max(4*need, minBack) {
			c.back = make([]byte, 0, max(need+need/2, minBack))
		}
		c.buf = append(c.back[:0], c.buf...) // memmove: buf may overlap back
	}
	return c.buf[l : l+n]
}

// read reads the new bytes, following Redis from one incr file to the
// next: a file is final once a newer one is in the manifest.
func (s *Shipper) read() error {
	c := s.c
	for {
		m, err := s.aof.linkIncrs(c.curSeq)
		if err != nil {
			return err
		}
		// Redis numbers incr files one after the other: the file after
		// curSeq is curSeq+1, whatever the manifest lists now (several
		// rewrites within one interval leave only the newest in it; the
		// link watcher has kept the ones in between).
		next := int64(-1)
		for _, f := range m.Incrs() {
			if f.Seq > c.curSeq {
				next = c.curSeq + 1
			}
		}
		size, err := s.readFile()
		if err != nil || next < 0 || c.fileOff < size {
			return err
		}
		if c.scan.InMulti() || c.scan.Boundary() != c.scan.Offset() {
			return fmt.Errorf("%w: incr file %d ended inside a command", errBroken, c.curSeq)
		}
		if _, err := os.Stat(s.aof.incrLink(next)); err != nil {
			return fmt.Errorf("%w: incr file %d was deleted before it could be linked", errBroken, next)
		}
		_ = os.Remove(s.aof.incrLink(c.curSeq))
		c.curSeq, c.fileBase, c.fileOff = next, c.fileBase+c.fileOff, 0
		s.linkAfter.Store(next)
	}
}

// cut makes a piece of the whole commands read since the last cut.
func (s *Shipper) cut() {
	c := s.c
	r := c.scan.Cut()
	if r.Len() == 0 {
		return
	}
	data := c.buf[:r.Len():r.Len()]
	c.buf = c.buf[r.Len():]
	c.seq++
	seg := Segment{Chain: c.info.ID, FirstSeq: c.seq, LastSeq: c.seq, Range: r, SHA256: sum256(data)}
	c.pending = append(c.pending, piece{seg, data})
	c.spooled += int64(len(data))
}
