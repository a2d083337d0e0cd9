// Package httpapi is the node's read-only HTTP listener: /metrics for
// Prometheus, /health, /master and /replica for Docker and load balancers
// (Patroni's semantics), and /status, the JSON `redis-autopilot status
// --json` prints. No handler changes state: each one reads through the
// functions in Options.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/lifecycle"
)

// Errors.
var (
	// ErrInvalidOptions is wrapped by New's error.
	ErrInvalidOptions = errors.New("invalid HTTP listener options")
	// ErrListen is wrapped by Start's error when HTTP_ADDR cannot be bound.
	ErrListen = errors.New("listen on HTTP_ADDR")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("HTTP listener already started")
)

// Off is the Addr that starts no listener (as does "").
const Off = "off"

// RoleFunc says what this node is now: role "master", "replica" or "" (redis
// down); healthy; and, on a replica, how many bytes it is behind its master
// (-1 when unknown). NodeRole builds one.
type RoleFunc func(ctx context.Context) (role string, healthy bool, lagBytes int64)

// HealthFunc says whether the local redis and sentinel are healthy, and
// when not, why (one English sentence).
type HealthFunc func(ctx context.Context) (ok bool, reason string)

// Options configure New. When Addr is on, Status, Health, Role and Metrics
// are required.
type Options struct {
	// Addr is the "host:port" to listen on (HTTP_ADDR); "" or "off" opens
	// no port at all.
	Addr string
	Log  hclog.Logger
	// Status is the node's last status (lifecycle.Node.Status).
	Status func() lifecycle.Status
	// Health serves /health.
	Health HealthFunc
	// Role serves /master and /replica.
	Role RoleFunc
	// Metrics serves /metrics (metrics.Handler).
	Metrics http.Handler
	// PITR, when set, adds this node's point-in-time shipping progress
	// to /status ("pitr", only while it ships).
	PITR func() (pitr.Status, bool)
	// Timeout bounds each Health and Role call. Default: 3s.
	Timeout time.Duration
}

// Server is the HTTP listener. Its methods are safe for concurrent use.
type Server struct {
	o   Options
	srv *http.Server

	mu      sync.Mutex
	ln      net.Listener
	started bool
	served  chan struct{} // closed when Serve has returned
}

// New checks o and returns a Server that listens once started.
func New(o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	s := &Server{o: o, served: make(chan struct{})}
	if !s.Enabled() {
		return s, nil
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return nil, fmt.Errorf("%w: HTTP_ADDR %q is not host:port or %q: %w", ErrInvalidOptions, o.Addr, Off, err)
	}
	if o.Status == nil || o.Health == nil || o.Role == nil || o.Metrics == nil {
		return nil, fmt.Errorf("%w: Status, Health, Role and Metrics are required", ErrInvalidOptions)
	}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      o.Timeout + 30*time.Second, // a scrape reads redis too
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          o.Log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	return s, nil
}

// Enabled reports whether Addr asks for a listener.
func (s *Server) Enabled() bool { return s.o.Addr != "" && s.o.Addr != Off }

// Start binds Addr and serves until ctx ends or Shutdown. It returns once
// bound, with ErrListen wrapped when the address is taken or invalid. With
// the listener off it does nothing and returns nil.
func (s *Server) Start(ctx context.Context) error {
	if !s.Enabled() {
		s.o.Log.Debug("HTTP listener off")
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("%w %s: %w", ErrListen, s.o.Addr, err)
	}
	s.ln, s.started = ln, true
	s.o.Log.Info("HTTP listener started", "addr", ln.Addr().String())
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.o.Log.Error("HTTP listener failed", "error", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
		case <-s.served:
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(sctx)
	}()
	return nil
}

// Addr is the address bound ("127.0.0.1:41234" when Addr asked for port 0),
// or "" when not listening: off, not started, or shut down.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown closes the listener and waits, as long as ctx allows, for
// requests in flight. It is idempotent; before Start it does nothing.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	s.mu.Lock()
	s.ln = nil
	s.mu.Unlock()
	if err == nil {
		s.o.Log.Debug("HTTP listener stopped")
	}
	return err
}
