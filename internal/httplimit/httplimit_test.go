package httplimit

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// A body of exactly the limit reads whole; one byte more is ErrTooLarge
// naming what was read and the fix.
func TestBody(t *testing.T) {
	for _, c := range []struct {
		n       int
		tooLong bool
	}{{0, false}, {99, false}, {100, false}, {101, true}, {10000, true}} {
		t.Run(strconv.Itoa(c.n), func(t *testing.T) {
			b := Body(io.NopCloser(strings.NewReader(strings.Repeat("x", c.n))), 100, "GET /x", "ask elsewhere")
			got, err := io.ReadAll(b)
			if !c.tooLong {
				if err != nil || len(got) != c.n {
					t.Fatalf("read %d bytes, %v; want %d, no error", len(got), err, c.n)
				}
				return
			}
			if !errors.Is(err, ErrTooLarge) || err.Error() != "GET /x: the reply is larger than this program reads (more than 100 bytes); ask elsewhere" {
				t.Fatalf("err = %v, want ErrTooLarge naming GET /x and the fix", err)
			}
			if len(got) != 100 {
				t.Fatalf("read %d bytes before the error, want the 100 allowed", len(got))
			}
		})
	}
}

// DecodeJSON decodes a value within the limit and refuses a longer one.
func TestDecodeJSON(t *testing.T) {
	var v struct{ A string }
	if err := DecodeJSON(strings.NewReader(`{"A":"ok"}`), 100, "x", "fix", &v); err != nil || v.A != "ok" {
		t.Fatalf("DecodeJSON = %v, %+v", err, v)
	}
	long := `{"A":"` + strings.Repeat("y", 200) + `"}`
	if err := DecodeJSON(strings.NewReader(long), 100, "x", "fix", &v); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("DecodeJSON of 206 bytes, limit 100 = %v, want ErrTooLarge", err)
	}
	if err := DecodeJSON(strings.NewReader(`{"A":`), 100, "x", "fix", &v); err == nil || !strings.HasPrefix(err.Error(), "x: ") {
		t.Fatalf("DecodeJSON of a cut value = %v, want an error naming x", err)
	}
}

// Transport bounds every response body, declared or chunked.
func TestTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/declared" {
			w.Header().Set("Content-Length", "200")
		} else {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		io.WriteString(w, strings.Repeat("z", 200))
	}))
	t.Cleanup(srv.Close)
	c := &http.Client{Transport: &Transport{Limit: 100, Fix: "fix it"}}
	for _, path := range []string{"/declared", "/chunked"} {
		resp, err := c.Get(srv.URL + path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) || !strings.HasSuffix(err.Error(), "; fix it") {
			t.Fatalf("GET %s: %v, want ErrTooLarge naming the path and the fix", path, err)
		}
	}
}

// A successful reply to a request for Data is read whole, however large;
// an error reply to one is bounded still.
func TestTransportData(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/error" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		io.WriteString(w, strings.Repeat("d", 200))
	}))
	t.Cleanup(srv.Close)
	c := &http.Client{Transport: &Transport{Limit: 100, Fix: "fix it"}}
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(Data(context.Background()), http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if b, err := get("/data"); err != nil || len(b) != 200 {
		t.Fatalf("GET /data for Data: %d bytes, %v; want all 200", len(b), err)
	}
	if _, err := get("/error"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("GET /error for Data: %v, want ErrTooLarge", err)
	}
}

// Watch reports the bound a reply ran into even when the reader of the
// body dropped the error (as triton-go's listing does).
func TestWatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // chunked: found out while reading
		io.WriteString(w, strings.Repeat("w", 200))
	}))
	t.Cleanup(srv.Close)
	c := &http.Client{Transport: &Transport{Limit: 100, Fix: "fix it"}}
	ctx, tooLarge := Watch(context.Background())
	if err := tooLarge(); err != nil {
		t.Fatalf("before any request: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/watched", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body) // its error dropped
	resp.Body.Close()
	if err := tooLarge(); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "/watched") {
		t.Fatalf("Watch after a reply of 200 bytes, limit 100: %v, want ErrTooLarge naming the request", err)
	}
}
