package lifecycle

import (
	"net"
	"testing"
)

func TestDetectAddr(t *testing.T) {
	// Loopback and unresolvable targets are skipped: the address comes
	// from an interface that is up and not loopback (every CI machine has
	// one), never 127.0.0.1.
	addr, err := DetectAddr([]string{"127.0.0.1:8500", "", "no-such-host.invalid"})
	if err != nil {
		t.Skipf("no non-loopback interface here: %v", err)
	}
	ip := net.ParseIP(addr)
	if ip == nil || ip.IsLoopback() {
		t.Fatalf("DetectAddr = %q, want a non-loopback IP", addr)
	}
	// A routable target gives the address of the interface routing to it.
	got, err := DetectAddr([]string{addr + ":8500"})
	if err != nil || got != addr {
		t.Fatalf("DetectAddr(route to %s) = %q, %v; want %s", addr, got, err, addr)
	}
}

func TestLocalAddr(t *testing.T) {
	for _, tc := range []struct{ bind, want string }{
		{"", "127.0.0.1:6379"}, {"0.0.0.0", "127.0.0.1:6379"}, {"::", "127.0.0.1:6379"},
		{"127.0.0.2", "127.0.0.2:6379"}, {"10.0.0.5", "10.0.0.5:6379"},
	} {
		if got := LocalAddr(tc.bind, 6379); got != tc.want {
			t.Errorf("LocalAddr(%q) = %q, want %q", tc.bind, got, tc.want)
		}
	}
}
