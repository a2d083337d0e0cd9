package httplimit

import (
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
