package nodes

import (
	"net"
	"sync"
	"testing"
	"time"
)

// WatchEvents gives up on a sentinel that accepts the connection but never
// answers (a stopped or overloaded one) instead of hanging the test that
// called it.
func TestWatchEventsGivesUpOnASilentSentinel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn // held open, never answered
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		ev, err := WatchEvents([]string{ln.Addr().String()})
		if ev != nil {
			ev.Stop()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("WatchEvents on a sentinel that never answers returned no error")
		}
		t.Logf("after %s: %v", time.Since(start).Round(100*time.Millisecond), err)
	case <-time.After(30 * time.Second):
		t.Fatal("WatchEvents still waits for a silent sentinel after 30 s")
	}
}
