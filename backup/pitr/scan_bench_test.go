package pitr

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkScanner scans an AOF of 100-byte SETs (the command headers are
// a third of the bytes, the worst case for a scanner that reads them a
// byte at a time): go test -run '^$' -bench Scanner ./backup/pitr
func BenchmarkScanner(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 8<<20; i++ {
		if i%1000 == 0 {
			fmt.Fprintf(&sb, "#TS:%d\r\n", 1795878472+i/1000)
		}
		fmt.Fprintf(&sb, "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$100\r\n%s\r\n", i, strings.Repeat("x", 100))
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s := NewScanner(State{})
		if _, err := s.Write(data); err != nil || s.Boundary() != int64(len(data)) {
			b.Fatalf("scan: %v, boundary %d of %d", err, s.Boundary(), len(data))
		}
	}
}
