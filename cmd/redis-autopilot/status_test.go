package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
)

// `status` asks HTTP_ADDR for the node's /status; a test server standing
// in for another program on that address answers with JSON that never
// ends: the command reads at most httpapi.MaxStatusReply and says what
// answered and what to do.
func TestStatusRefusesAnEndlessReply(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"reason":"`)
		chunk := strings.Repeat("x", 64<<10)
		for {
			n, err := io.WriteString(w, chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := fetchNodeStatus(ctx, srv.Listener.Addr().String())
	if !errors.Is(err, httplimit.ErrTooLarge) {
		t.Fatalf("fetchNodeStatus = %v, want an error wrapping httplimit.ErrTooLarge", err)
	}
	for _, want := range []string{"/status", "more than 1 MiB", "HTTP_ADDR must name this node's HTTP listener"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	}
	t.Logf("%v (the test server sent %d bytes before the client hung up)", err, sent.Load())
}
