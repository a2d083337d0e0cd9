package pitr

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// boundariesByteAtATime feeds data one byte at a time and returns every
// offset the scanner called a boundary.
func boundariesByteAtATime(t *testing.T, data []byte) map[int64]bool {
	t.Helper()
	s := NewScanner(State{})
	got := map[int64]bool{0: true}
	for i := range data {
		if _, err := s.Write(data[i : i+1]); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
		got[s.Boundary()] = true
	}
	return got
}

func TestScannerRealAOF(t *testing.T) {
	data := realAOF(t)
	whole := NewScanner(State{})
	if _, err := whole.Write(data); err != nil {
		t.Fatal(err)
	}
	all := whole.Pending()
	if whole.InMulti() || all.End != int64(len(data)) || all.Start != 0 {
		t.Fatalf("whole file: range %+v in multi %v, want [0,%d)", all, whole.InMulti(), len(data))
	}
	if all.FirstTS == 0 || all.LastTS < all.FirstTS+2 {
		t.Fatalf("timestamps %d..%d: want a #TS at the start and two seconds later", all.FirstTS, all.LastTS)
	}
	bounds := boundariesByteAtATime(t, data)
	t.Run("boundaries agree with redis-check-aof", func(t *testing.T) { checkWithRedis(t, data, bounds) })
	t.Run("split at every byte", func(t *testing.T) { splitEverywhere(t, data, bounds, all) })
}

// checkWithRedis asks redis-check-aof about every prefix that ends a line
// before a '*' or '#':
// a boundary must be a valid AOF; a valid prefix that is not a boundary
// may only add annotations after one (inside MULTI redis-check-aof says
// "Reached EOF before reading EXEC").
func checkWithRedis(t *testing.T, data []byte, bounds map[int64]bool) {
	bin := harness.NeedBinary(t, "redis-check-aof")
	dir := t.TempDir()
	path := filepath.Join(dir, "prefix.aof")
	last := int64(0)
	checked := 0
	for p := int64(1); p <= int64(len(data)); p++ {
		if bounds[p] {
			last = p
		}
		if data[p-1] != '\n' || (p < int64(len(data)) && data[p] != '*' && data[p] != '#') {
			continue // check only where an item may start: one process each
		}
		if err := os.WriteFile(path, data[:p], 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, path).CombinedOutput()
		valid := err == nil && bytes.Contains(out, []byte("is valid"))
		checked++
		switch {
		case bounds[p] && !valid:
			t.Fatalf("prefix [0,%d) is a boundary but redis-check-aof says:\n%s", p, out)
		case !bounds[p] && valid && !onlyAnnotations(data[last:p]):
			t.Fatalf("prefix [0,%d) is valid to redis-check-aof but the last boundary is %d", p, last)
		}
	}
	t.Logf("%d prefixes checked", checked)
	if checked < 20 {
		t.Fatalf("only %d prefixes checked", checked)
	}
}

func onlyAnnotations(b []byte) bool {
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// splitEverywhere cuts after the first k bytes for every k: the first
// range ends at the last boundary at or before k, the rest continues it,
// and a scanner resumed from the cut's State sees the same rest.
func splitEverywhere(t *testing.T, data []byte, bounds map[int64]bool, all Range) {
	lastBound := int64(0)
	for k := 0; k <= len(data); k++ {
		if bounds[int64(k)] {
			lastBound = int64(k)
		}
		s := NewScanner(State{})
		mustWrite(t, s, data[:k])
		r1 := s.Cut()
		st := s.State()
		mustWrite(t, s, data[k:])
		r2 := s.Cut()
		if r1.End != lastBound || r1.Start != 0 || r2.Start != r1.End || r2.End != all.End {
			t.Fatalf("k=%d: ranges %+v %+v, want [0,%d) [%d,%d)", k, r1, r2, lastBound, lastBound, all.End)
		}
		if r1.Commands+r2.Commands != all.Commands || r2.LastTS != all.LastTS {
			t.Fatalf("k=%d: commands %d+%d (want %d), last ts %d (want %d)", k, r1.Commands, r2.Commands, all.Commands, r2.LastTS, all.LastTS)
		}
		if r1.Len() > 0 && r1.FirstTS != all.FirstTS {
			t.Fatalf("k=%d: first ts %d, want %d", k, r1.FirstTS, all.FirstTS)
		}
		if st.Offset != r1.End {
			t.Fatalf("k=%d: state at %d, cut at %d", k, st.Offset, r1.End)
		}
		resumed := NewScanner(st)
		mustWrite(t, resumed, data[st.Offset:])
		if r3 := resumed.Cut(); r3 != r2 {
			t.Fatalf("k=%d: resumed scan %+v, continued scan %+v", k, r3, r2)
		}
	}
}

func mustWrite(t *testing.T, s *Scanner, p []byte) {
	t.Helper()
	if _, err := s.Write(p); err != nil {
		t.Fatal(err)
	}
}

func TestScannerRejects(t *testing.T) {
	for name, in := range map[string]string{
		"inline command":     "SET a b\r\n",
		"bulk without $":     "*1\r\n+OK\r\n",
		"no CRLF after bulk": "*1\r\n$1\r\naXY",
		"negative count":     "*-1\r\n",
		"zero args":          "*0\r\n",
		"huge bulk":          "*1\r\n$99999999999999999\r\n",
		"long annotation":    "#" + strings.Repeat("x", 300) + "\r\n",
		"bad ts":             "#TS:abc\r\n",
		"LF only":            "#TS:1\n",
		"empty length":       "*\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			s := NewScanner(State{})
			_, err := s.Write([]byte(in))
			if err == nil || !strings.Contains(err.Error(), "invalid AOF command stream: at byte") {
				t.Fatalf("err = %v, want ErrAOF with the offset", err)
			}
			if _, err2 := s.Write([]byte("*1\r\n$4\r\nPING\r\n")); err2 == nil {
				t.Fatal("scanner went on after an error")
			}
		})
	}
}

// FuzzScanner: feeding bytes in two pieces gives what one piece gives,
// the boundary never passes the offset, and a resumed scanner agrees.
func FuzzScanner(f *testing.F) {
	if seed, err := os.ReadFile("testdata/real.aof"); err == nil {
		f.Add(seed, 100)
	}
	f.Add([]byte("#TS:5\r\n*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n*1\r\n$4\r\nEXEC\r\n"), 20)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		if split < 0 || split > len(data) {
			split = len(data) / 2
		}
		one := NewScanner(State{})
		_, err1 := one.Write(data)
		two := NewScanner(State{})
		_, err2 := two.Write(data[:split])
		cut := two.Cut()
		st := two.State()
		if err2 == nil {
			_, err2 = two.Write(data[split:])
		}
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("one piece: %v; two pieces: %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		if one.Boundary() != two.Boundary() || one.Boundary() > one.Offset() || one.Pending().LastTS != two.Pending().LastTS {
			t.Fatalf("one piece: %+v at %d; two: %+v at %d", one.Pending(), one.Boundary(), two.Pending(), two.Boundary())
		}
		if cut.End > int64(split) || cut.End != st.Offset {
			t.Fatalf("cut %+v after %d bytes, state %+v", cut, split, st)
		}
		resumed := NewScanner(st)
		if _, err := resumed.Write(data[st.Offset:]); err != nil || resumed.Pending() != two.Pending() {
			t.Fatalf("resumed %+v (%v), continued %+v", resumed.Pending(), err, two.Pending())
		}
	})
}
