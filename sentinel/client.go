package sentinel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/internal/resplimit"
)

// ErrNoMaster means the sentinel does not monitor a master of that name.
var ErrNoMaster = errors.New("sentinel does not know the master")

// Client talks to one sentinel. It is safe for concurrent use.
type Client struct {
	addr, password string
	sc             *redis.SentinelClient
}

// Dial returns a client for the sentinel at addr ("host:port"), with
// password ("" for none). It connects on the first command. Each command is
// bounded by its ctx and by a 5 s dial/read timeout, and each reply by
// resplimit.Sentinel: whoever can register a `redis-sentinel` in Consul is
// asked, and a reply that declares more is an error wrapping
// resplimit.ErrRejected, never an allocation.
func Dial(addr, password string) *Client {
	return &Client{addr: addr, password: password, sc: redis.NewSentinelClient(options(addr, password))}
}

func options(addr, password string) *redis.Options {
	const dialTimeout = 5 * time.Second
	return &redis.Options{
		Addr: addr, Password: password, DisableIdentity: true, ContextTimeoutEnabled: true,
		MaxRetries: -1, DialTimeout: dialTimeout, ReadTimeout: 5 * time.Second, PoolSize: 2,
		Dialer: resplimit.Dialer(resplimit.Sentinel, dialTimeout),
	}
}

// Addr is the sentinel's address as dialled.
func (c *Client) Addr() string { return c.addr }

// Close closes the client's connections.
func (c *Client) Close() error { return c.sc.Close() }

// Ping sends PING.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.sc.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping sentinel %s: %w", c.addr, err)
	}
	return nil
}

// wrap says what failed where, mapping Sentinel's "unknown master" replies to ErrNoMaster.
func (c *Client) wrap(what, name string, err error) error {
	if errors.Is(err, redis.Nil) || (err != nil && strings.Contains(err.Error(), "No such master")) {
		err = ErrNoMaster
	}
	return fmt.Errorf("%s %s on sentinel %s: %w", what, name, c.addr, err)
}

// GetMasterAddr returns the master of name as "ip:port"
// (SENTINEL GET-MASTER-ADDR-BY-NAME); ErrNoMaster when the sentinel does not
// monitor name. It is the sentinel's current view: during a failover it
// names the new master as soon as it is promoted.
func (c *Client) GetMasterAddr(ctx context.Context, name string) (string, error) {
	v, err := c.sc.GetMasterAddrByName(ctx, name).Result()
	if err != nil {
		return "", c.wrap("get-master-addr-by-name", name, err)
	}
	if len(v) != 2 {
		return "", c.wrap("get-master-addr-by-name", name, fmt.Errorf("unexpected reply %q", v))
	}
	return net.JoinHostPort(v[0], v[1]), nil
}

// Instance is one entry of SENTINEL MASTER, REPLICAS or SENTINELS.
type Instance struct {
	Name  string
	IP    string
	Port  int
	RunID string
	Flags []string
	// Fields is the whole reply, e.g. "num-other-sentinels", "num-slaves",
	// "quorum", "master-link-status", "slave-repl-offset".
	Fields map[string]string
}

func newInstance(m map[string]string) Instance {
	port, _ := strconv.Atoi(m["port"])
	var flags []string
	if m["flags"] != "" {
		flags = strings.Split(m["flags"], ",")
	}
	return Instance{Name: m["name"], IP: m["ip"], Port: port, RunID: m["runid"], Flags: flags, Fields: m}
}

// Addr is "ip:port".
func (i Instance) Addr() string { return net.JoinHostPort(i.IP, strconv.Itoa(i.Port)) }

// HasFlag reports whether flags include f ("master", "slave", "s_down",
// "o_down", "disconnected", "failover_in_progress", ...).
func (i Instance) HasFlag(f string) bool {
	for _, x := range i.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// Down reports a subjective or objective down flag.
func (i Instance) Down() bool { return i.HasFlag("s_down") || i.HasFlag("o_down") }

// Promotable reports whether Sentinel could promote this replica (an
// entry of SENTINEL REPLICAS) now, as Redis 7's sentinelSelectSlave
// judges it: not flagged down, connected, answering PING in the last 5 s,
// and its link to the master up as the sentinel last read it in the
// replica's INFO (a replica the sentinel has not read INFO from yet shows
// "err" there, and Sentinel skips a replica whose INFO is not fresh). Its
// replica-priority is not judged: that is the operator's choice, and a
// planned failover sets the others' to 0 for a moment.
func (i Instance) Promotable() bool {
	ping, err := strconv.ParseInt(i.Fields["last-ok-ping-reply"], 10, 64)
	return !i.Down() && !i.HasFlag("disconnected") && err == nil && ping <= promotablePing &&
		i.Fields["master-link-status"] == "ok"
}

// promotablePing is Sentinel's limit on a replica's last PING reply, in
// milliseconds, for it to be chosen (SENTINEL_PING_PERIOD*5).
const promotablePing = 5000

// Int returns Fields[key] as an integer (0 when missing or malformed).
func (i Instance) Int(key string) int64 {
	n, _ := strconv.ParseInt(i.Fields[key], 10, 64)
	return n
}

// NumOtherSentinels is num-other-sentinels of a SENTINEL MASTER reply.
func (i Instance) NumOtherSentinels() int { return int(i.Int("num-other-sentinels")) }

// NumReplicas is num-slaves of a SENTINEL MASTER reply.
func (i Instance) NumReplicas() int { return int(i.Int("num-slaves")) }

// Master returns SENTINEL MASTER name; ErrNoMaster when unknown.
func (c *Client) Master(ctx context.Context, name string) (Instance, error) {
	m, err := c.sc.Master(ctx, name).Result()
	if err != nil {
		return Instance{}, c.wrap("sentinel master", name, err)
	}
	return newInstance(m), nil
}

// Replicas returns SENTINEL REPLICAS name; ErrNoMaster when unknown.
func (c *Client) Replicas(ctx context.Context, name string) ([]Instance, error) {
	l, err := c.sc.Replicas(ctx, name).Result()
	if err != nil {
		return nil, c.wrap("sentinel replicas", name, err)
	}
	return instances(l), nil
}

// Sentinels returns SENTINEL SENTINELS name (the others, not this one);
// ErrNoMaster when unknown.
func (c *Client) Sentinels(ctx context.Context, name string) ([]Instance, error) {
	l, err := c.sc.Sentinels(ctx, name).Result()
	if err != nil {
		return nil, c.wrap("sentinel sentinels", name, err)
	}
	return instances(l), nil
}

func instances(l []map[string]string) []Instance {
	out := make([]Instance, 0, len(l))
	for _, m := range l {
		out = append(out, newInstance(m))
	}
	return out
}

// Failover asks this sentinel to fail name over now (SENTINEL FAILOVER),
// without agreement from the others. It returns when the failover has
// started; watch for +switch-master to learn the new master. Sentinel
// refuses ("NOGOODSLAVE") when no replica is fit to be promoted.
func (c *Client) Failover(ctx context.Context, name string) error {
	if err := c.sc.Failover(ctx, name).Err(); err != nil {
		return c.wrap("sentinel failover", name, err)
	}
	return nil
}

// Reset makes the sentinel forget the masters matching the glob pattern and
// rediscover their replicas and sentinels (SENTINEL RESET); it returns how
// many masters matched.
func (c *Client) Reset(ctx context.Context, pattern string) (int, error) {
	n, err := c.sc.Reset(ctx, pattern).Result()
	if err != nil {
		return 0, fmt.Errorf("sentinel reset %s on %s: %w", pattern, c.addr, err)
	}
	return int(n), nil
}

// Set sets one option of name at runtime (SENTINEL SET name key value);
// Sentinel also rewrites its config file with it.
func (c *Client) Set(ctx context.Context, name, key, value string) error {
	if err := c.sc.Set(ctx, name, key, value).Err(); err != nil {
		return c.wrap("sentinel set "+key+" for", name, err)
	}
	return nil
}

// Apply sets t at runtime: quorum, down-after-milliseconds, failover-timeout,
// parallel-syncs (when > 0) and auth-pass with SENTINEL SET, announce-ip
// and announce-port with SENTINEL CONFIG SET. It cannot change this
// sentinel's own requirepass; see UpdateConf, the recommended way at start.
func (c *Client) Apply(ctx context.Context, name string, t Tunables) error {
	if err := t.Validate(); err != nil {
		return err
	}
	sets := [][2]string{
		{"quorum", strconv.Itoa(t.Quorum)},
		{"down-after-milliseconds", strconv.FormatInt(t.DownAfter.Milliseconds(), 10)},
		{"failover-timeout", strconv.FormatInt(t.FailoverTimeout.Milliseconds(), 10)},
		{"auth-pass", t.Password},
	}
	if t.ParallelSyncs > 0 {
		sets = append(sets, [2]string{"parallel-syncs", strconv.Itoa(t.ParallelSyncs)})
	}
	for _, kv := range sets {
		if err := c.Set(ctx, name, kv[0], kv[1]); err != nil {
			return err
		}
	}
	for _, kv := range [][2]string{{"announce-ip", t.AnnounceIP}, {"announce-port", strconv.Itoa(t.AnnouncePort)}} {
		if err := c.sc.Process(ctx, redis.NewStatusCmd(ctx, "sentinel", "config", "set", kv[0], kv[1])); err != nil {
			return fmt.Errorf("sentinel config set %s on %s: %w", kv[0], c.addr, err)
		}
	}
	return nil
}

// InfoPeriod is this sentinel's INFO period (SENTINEL DEBUG INFO-PERIOD,
// Redis 7.0+): how often it asks each master and replica INFO, and so how
// soon after SENTINEL RESET it learns the master's replicas again.
func (c *Client) InfoPeriod(ctx context.Context) (time.Duration, error) {
	cmd := redis.NewSliceCmd(ctx, "sentinel", "debug")
	if err := c.sc.Process(ctx, cmd); err != nil {
		return 0, fmt.Errorf("sentinel debug on %s: %w", c.addr, err)
	}
	v := cmd.Val()
	for i := 0; i+1 < len(v); i += 2 {
		if k, _ := v[i].(string); strings.EqualFold(k, "info-period") {
			ms, err := strconv.ParseInt(fmt.Sprint(v[i+1]), 10, 64)
			if err != nil || ms <= 0 {
				return 0, fmt.Errorf("sentinel debug on %s: INFO-PERIOD %v", c.addr, v[i+1])
			}
			return time.Duration(ms) * time.Millisecond, nil
		}
	}
	return 0, fmt.Errorf("sentinel debug on %s: no INFO-PERIOD in the reply", c.addr)
}

// SetInfoPeriod sets this sentinel's INFO period (SENTINEL DEBUG
// INFO-PERIOD ms). It is not written to sentinel.conf: a restart restores
// the default.
func (c *Client) SetInfoPeriod(ctx context.Context, d time.Duration) error {
	cmd := redis.NewStatusCmd(ctx, "sentinel", "debug", "info-period", strconv.FormatInt(d.Milliseconds(), 10))
	if err := c.sc.Process(ctx, cmd); err != nil {
		return fmt.Errorf("sentinel debug info-period on %s: %w", c.addr, err)
	}
	return nil
}
