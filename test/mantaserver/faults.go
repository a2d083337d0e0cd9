package mantaserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// FaultKind says what an injected fault does to a matching request.
type FaultKind int

const (
	// Status answers Fault.Status (default 503) with a muskie JSON error,
	// after reading a PUT's body, and changes nothing.
	Status FaultKind = iota + 1
	// Stall hangs the request until the client gives up or the server is
	// closed.
	Stall
	// Truncate (GET) announces the full Content-Length, sends After bytes
	// and closes the connection.
	Truncate
	// Reset transfers After bytes of a PUT's or GET's body, then resets the
	// connection (TCP RST).
	Reset
	// Slow throttles a PUT's or GET's body to Rate bytes per second.
	Slow
	// Endless answers a GET with a directory listing whose entries do not
	// end: it stops after endlessMax bytes, or when the client hangs up.
	Endless
)

// endlessMax is where an Endless reply stops: far past any bound a client
// should keep, short of exhausting the test's memory.
const endlessMax = 64 << 20

// Fault is injected into requests whose method (empty: any) and path
// prefix (absolute Manta path) match, authenticated ones only.
type Fault struct {
	Method     string
	PathPrefix string
	// Count is how many matching requests it affects; 0 means every one
	// until ClearFaults.
	Count  int
	Kind   FaultKind
	Status int   // Status: 500, 503, ...
	After  int64 // Truncate, Reset: bytes transferred first (default 32 KiB)
	Rate   int64 // Slow: bytes per second (default 64 KiB)
}

// Inject adds a fault; the oldest matching fault applies first.
func (s *Server) Inject(f Fault) {
	if f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	if f.After == 0 {
		f.After = 32 << 10
	}
	if f.Rate == 0 {
		f.Rate = 64 << 10
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFault(method, p string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method != "" && f.Method != method) || !strings.HasPrefix(p, f.PathPrefix) {
			continue
		}
		if f.Count > 0 {
			if f.Count--; f.Count == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		c := *f
		s.faulted = time.Now()
		return &c
	}
	return nil
}

// FaultedAt is when a request last took a fault (zero if none has).
func (s *Server) FaultedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faulted
}

// preFault handles the faults that replace the request; true if answered.
func (s *Server) preFault(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	switch f.Kind {
	case Status:
		_, _ = io.Copy(io.Discard, r.Body)
		code := map[int]string{500: "InternalError", 503: "ServiceUnavailable"}[f.Status]
		if code == "" {
			code = http.StatusText(f.Status)
		}
		writeError(w, r, f.Status, code, "injected fault")
		return true
	case Endless:
		endless(w)
		return true
	case Stall:
		_, _ = io.Copy(io.Discard, r.Body) // ends when the client hangs up
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return true
	}
	return false
}

// endless writes a directory listing of endlessMax bytes of entries,
// unless the client hangs up first.
func endless(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-json-stream; type=directory")
	mtime := time.Now().UTC().Format(mtimeFormat)
	for n, i := 0, 0; n < endlessMax; i++ {
		line, _ := json.Marshal(entry{Name: fmt.Sprintf("endless-%012d", i), Type: "directory", Mtime: mtime})
		k, err := w.Write(append(line, '\n'))
		if err != nil {
			return
		}
		n += k
	}
}

var errHijacked = errors.New("connection closed by an injected fault")

// hangUp closes the connection under the response; rst makes it a reset.
// flush sends what was written first; never flush before any write: that
// would send "200 OK" headers.
func hangUp(w http.ResponseWriter, rst, flush bool) {
	if fl, ok := w.(http.Flusher); ok && flush {
		fl.Flush()
	}
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // still cut the connection, never answer 200
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// faultyBody is a PUT's body with Reset or Slow applied.
func (s *Server) faultyBody(w http.ResponseWriter, r *http.Request, f *Fault) io.Reader {
	switch {
	case f == nil:
		return r.Body
	case f.Kind == Reset:
		return io.MultiReader(io.LimitReader(r.Body, f.After), hangUpReader{w})
	case f.Kind == Slow:
		return &throttle{r: r.Body, rate: f.Rate, start: time.Now()}
	}
	return r.Body
}

type hangUpReader struct{ w http.ResponseWriter }

func (h hangUpReader) Read([]byte) (int, error) {
	hangUp(h.w, true, false)
	return 0, errHijacked
}

// faultyWriter is a GET's response writer with Truncate, Reset or Slow.
func (s *Server) faultyWriter(w http.ResponseWriter, f *Fault, size int64) http.ResponseWriter {
	if f == nil || (f.Kind != Truncate && f.Kind != Reset && f.Kind != Slow) {
		return w
	}
	fw := &faultWriter{ResponseWriter: w, f: f, left: f.After, start: time.Now()}
	if f.Kind == Slow {
		fw.left = size + 1
	}
	return fw
}

type faultWriter struct {
	http.ResponseWriter
	f     *Fault
	left  int64
	sent  int64
	start time.Time
}

func (fw *faultWriter) Write(p []byte) (int, error) {
	if fw.f.Kind == Slow {
		return fw.slowWrite(p)
	}
	if int64(len(p)) <= fw.left {
		fw.left -= int64(len(p))
		return fw.ResponseWriter.Write(p)
	}
	n, _ := fw.ResponseWriter.Write(p[:fw.left])
	fw.left = 0
	hangUp(fw.ResponseWriter, fw.f.Kind == Reset, true)
	return n, errHijacked
}

func (fw *faultWriter) slowWrite(p []byte) (int, error) {
	chunk := max(fw.f.Rate/20, 1)
	written := 0
	for len(p) > 0 {
		n := min(int64(len(p)), chunk)
		m, err := fw.ResponseWriter.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		fw.ResponseWriter.(http.Flusher).Flush()
		fw.sent += n
		p = p[n:]
		time.Sleep(time.Until(fw.start.Add(time.Duration(fw.sent) * time.Second / time.Duration(fw.f.Rate))))
	}
	return written, nil
}

// throttle reads at most rate bytes per second.
type throttle struct {
	r     io.Reader
	rate  int64
	start time.Time
	n     int64
}

func (t *throttle) Read(p []byte) (int, error) {
	chunk := max(t.rate/20, 1)
	if int64(len(p)) > chunk {
		p = p[:chunk]
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	time.Sleep(time.Until(t.start.Add(time.Duration(t.n) * time.Second / time.Duration(t.rate))))
	return n, err
}
