package registry

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// hostileAgent is a test server standing in for a hostile or broken
// Consul agent: it answers every request with 200, head, then body,
// written again and again while repeat is set (until the client hangs
// up), with a Content-Length when length is set.
type hostileAgent struct {
	head   string
	body   []byte
	repeat bool
	length bool
	sent   atomic.Int64
}

func (h *hostileAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.length {
		w.Header().Set("Content-Length", strconv.Itoa(len(h.body)))
	}
	w.Header().Set("X-Consul-Index", "1")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, h.head); err != nil {
		return
	}
	for {
		n, err := w.Write(h.body)
		h.sent.Add(int64(n))
		if err != nil || !h.repeat {
			return
		}
	}
}

// A reply larger than MaxConsulReply, endless or not, declared or not,
// is an error naming the request and the fix; the registry reads no more
// than the bound and the process lives on.
func TestConsulReplyIsBounded(t *testing.T) {
	value := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), MaxConsulReply+1))
	kv := []byte(`[{"Key":"k","Value":"` + value + `"}]`)
	cases := []struct {
		name  string
		agent *hostileAgent
	}{
		{"an endless JSON array", &hostileAgent{head: "[", body: []byte(`{"Key":"k","Value":""},`), repeat: true}},
		{"a value over the bound, chunked", &hostileAgent{body: kv}},
		{"a value over the bound, its length declared", &hostileAgent{body: kv, length: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.agent)
			t.Cleanup(srv.Close)
			r, err := New(Options{API: &api.Config{Address: srv.Listener.Addr().String()}})
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err = r.Get(testCtx(t), "k")
			runtime.ReadMemStats(&after)
			if !errors.Is(err, httplimit.ErrTooLarge) {
				t.Fatalf("Get = %v, want an error wrapping httplimit.ErrTooLarge", err)
			}
			for _, want := range []string{"read key k", srv.Listener.Addr().String() + "/v1/kv/k", "more than 4 MiB", "CONSUL_HTTP_ADDR must name a Consul agent"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not say %q", err, want)
				}
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("error: %v; the test server sent %d bytes, the client allocated %d MiB", err, c.agent.sent.Load(), alloc>>20)
			if alloc > 8*MaxConsulReply {
				t.Fatalf("reading the reply allocated %d MiB, want at most %d", alloc>>20, 8*MaxConsulReply>>20)
			}
		})
	}
}

// Consul's largest value (512 KiB, kv_max_value_size) still reads through
// the bound from a real agent.
func TestConsulLargestValueReads(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, harness.StartConsul(t), Options{})
	ctx := testCtx(t)
	want := strings.Repeat("v", 512<<10)
	if err := r.Put(ctx, "test/largest", want); err != nil {
		t.Fatal(err)
	}
	got, found, err := r.Get(ctx, "test/largest")
	if err != nil || !found || got != want {
		t.Fatalf("Get = %d bytes, %v, %v; want the %d bytes written", len(got), found, err, len(want))
	}
}
