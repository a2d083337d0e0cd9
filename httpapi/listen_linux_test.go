package httpapi

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// listeners returns the inodes of the TCP sockets this process has in
// LISTEN state, from /proc/self/fd and /proc/net/tcp{,6}.
func listeners(t *testing.T) map[string]bool {
	t.Helper()
	mine := map[string]bool{}
	fds, err := filepath.Glob("/proc/self/fd/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	out := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) > 9 && fields[3] == "0A" && mine[fields[9]] {
				out[fields[9]] = true
			}
		}
		f.Close()
	}
	return out
}

// TestOffOpensNoPort: with HTTP_ADDR off (or empty) New and Start open no
// listening socket. The same count taken around a real Start shows the
// check sees one.
func TestOffOpensNoPort(t *testing.T) {
	for _, addr := range []string{"off", ""} {
		before := listeners(t)
		s, err := New(Options{Addr: addr})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if after := listeners(t); len(after) != len(before) {
			t.Errorf("Addr %q: listening sockets %d -> %d", addr, len(before), len(after))
		}
		if s.Enabled() || s.Addr() != "" {
			t.Errorf("Addr %q: Enabled %v, Addr() %q", addr, s.Enabled(), s.Addr())
		}
		if err := s.Shutdown(t.Context()); err != nil {
			t.Errorf("Shutdown of an off listener: %v", err)
		}
	}

	before := listeners(t)
	start(t, t.Context(), &fake{})
	if after := listeners(t); len(after) != len(before)+1 {
		t.Errorf("a real Start: listening sockets %d -> %d, want one more (the check is blind)", len(before), len(after))
	}
}
