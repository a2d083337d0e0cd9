package redisnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/internal/resplimit"
)

// ErrNotReady is wrapped by WaitReady's error when ctx ends first.
var ErrNotReady = errors.New("redis not ready")

// Client talks to one redis-server. It is safe for concurrent use.
type Client struct {
	addr string
	rc   *redis.Client
	opt  redis.Options
}

// Dial returns a client for addr ("host:port", or a unix socket path
// starting with "/") using password ("" for none). It does not connect until
// the first command. Every command is bounded by its ctx, plus a 5 s read
// timeout except Shutdown, which waits for the final save as long as ctx
// allows. Every reply is bounded by resplimit.Redis (a master named by
// Consul or Sentinel is a peer like any other): one that declares more is
// an error wrapping resplimit.ErrRejected.
func Dial(addr, password string) *Client {
	const dialTimeout = 5 * time.Second
	opt := redis.Options{
		Addr: addr, Password: password, Network: "tcp",
		DisableIdentity: true, ContextTimeoutEnabled: true,
		MaxRetries: -1, DialTimeout: dialTimeout, ReadTimeout: 5 * time.Second,
		PoolSize: 2, Dialer: resplimit.Dialer(resplimit.Redis, dialTimeout),
	}
	if strings.HasPrefix(addr, "/") {
		opt.Network = "unix"
	}
	o := opt
	return &Client{addr: addr, rc: redis.NewClient(&o), opt: opt}
}

// Addr is the address the client was dialled with.
func (c *Client) Addr() string { return c.addr }

// Redis exposes the underlying go-redis client for commands not wrapped here.
func (c *Client) Redis() *redis.Client { return c.rc }

// Close closes the client's connections.
func (c *Client) Close() error { return c.rc.Close() }

// Ping sends PING.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rc.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis %s: %w", c.addr, err)
	}
	return nil
}

// Info sends INFO with the given sections (none: Redis's default set, which
// includes replication and persistence) and parses the reply.
func (c *Client) Info(ctx context.Context, sections ...string) (Info, error) {
	s, err := c.rc.Info(ctx, sections...).Result()
	if err != nil {
		return nil, fmt.Errorf("info redis %s: %w", c.addr, err)
	}
	return ParseInfo(s), nil
}

// Health sends INFO and applies Health to it; an unanswered INFO is
// unhealthy with the error as reason.
func (c *Client) Health(ctx context.Context) (ok bool, reason string) {
	info, err := c.Info(ctx)
	if err != nil {
		return false, err.Error()
	}
	return Health(info)
}

// WaitReady polls until redis answers PING and INFO says loading:0, or ctx
// ends (then the error wraps ErrNotReady and says what was last seen). There
// is no attempt count: a large dataset loads for as long as it takes, and
// ctx is the only bound.
func WaitReady(ctx context.Context, c *Client) error {
	const poll = 100 * time.Millisecond
	t := time.NewTimer(0)
	defer t.Stop()
	last := errors.New("not asked yet")
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for redis %s: %w: %v", c.addr, ErrNotReady, last)
		case <-t.C:
		}
		last = ready(ctx, c)
		if last == nil {
			return nil
		}
		t.Reset(poll)
	}
}

func ready(ctx context.Context, c *Client) error {
	if err := c.Ping(ctx); err != nil {
		return err
	}
	info, err := c.Info(ctx, "persistence")
	if err != nil {
		return err
	}
	if info.Loading() {
		return errors.New("loading:1")
	}
	return nil
}

// Shutdown sends SHUTDOWN SAVE (save) or SHUTDOWN NOSAVE. The server closing
// the connection is success; an error reply (e.g. the final save failed and
// redis refused to exit) is an error. It uses its own connection with no read
// timeout, so a long final save is bounded only by ctx.
func (c *Client) Shutdown(ctx context.Context, save bool) error {
	o := c.opt
	o.ReadTimeout, o.PoolSize = -1, 1
	rc := redis.NewClient(&o)
	defer rc.Close()
	var err error
	if save {
		err = rc.ShutdownSave(ctx).Err()
	} else {
		err = rc.ShutdownNoSave(ctx).Err()
	}
	if err == nil || isClosed(err) {
		return nil
	}
	return fmt.Errorf("shutdown redis %s (save=%t): %w", c.addr, save, err)
}

// isClosed reports the errors with which a connection ends when the server exits.
func isClosed(err error) bool {
	var ne *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && !ne.Timeout())
}

// ReplicaOf makes the server a replica of host:port (REPLICAOF host port).
func (c *Client) ReplicaOf(ctx context.Context, host string, port int) error {
	if err := c.rc.ReplicaOf(ctx, host, strconv.Itoa(port)).Err(); err != nil {
		return fmt.Errorf("replicaof %s on redis %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), c.addr, err)
	}
	return nil
}

// NoOne promotes the server to master (REPLICAOF NO ONE).
func (c *Client) NoOne(ctx context.Context) error {
	if err := c.rc.ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		return fmt.Errorf("replicaof no one on redis %s: %w", c.addr, err)
	}
	return nil
}

// The write fence: min-replicas-to-write set above any cluster's replica
// count, so every write is refused at once (NOREPLICAS) and none is
// acknowledged, while reads, PUBLISH (Sentinel's hellos) and replication go
// on. A node raises it on its master while that master is being handed over
// or failed over (package lifecycle).
const (
	FenceSetting = "min-replicas-to-write"
	FenceValue   = "1000000"
)

// Fenced reports whether the server's write fence is up.
func (c *Client) Fenced(ctx context.Context) (bool, error) {
	cur, err := c.rc.ConfigGet(ctx, FenceSetting).Result()
	if err != nil {
		return false, fmt.Errorf("config get %s on redis %s: %w", FenceSetting, c.addr, err)
	}
	return cur[FenceSetting] == FenceValue, nil
}
