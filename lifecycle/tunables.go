package lifecycle

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// KV reads Consul keys.
type KV interface {
	Get(ctx context.Context, key string) (value string, found bool, err error)
}

// SentinelTunables are the sentinel settings from the options, with the
// shell version's Consul keys overriding quorum and failover-timeout. A
// key that does not parse is reported in the error and ignored.
func SentinelTunables(ctx context.Context, kv KV, base sentinel.Tunables) (sentinel.Tunables, error) {
	t := base
	var bad []string
	if v, ok, err := kv.Get(ctx, QuorumKey); err != nil {
		return base, err
	} else if ok {
		q, perr := strconv.Atoi(strings.TrimSpace(v))
		if perr != nil || q < 1 {
			bad = append(bad, fmt.Sprintf("%s=%q: must be a whole number >= 1", QuorumKey, v))
		} else {
			t.Quorum = q
		}
	}
	if v, ok, err := kv.Get(ctx, FailoverTimeoutKey); err != nil {
		return base, err
	} else if ok {
		d, perr := parseMillis(v)
		if perr != nil {
			bad = append(bad, fmt.Sprintf("%s=%q: must be milliseconds (as in sentinel.conf) or a duration like 60s", FailoverTimeoutKey, v))
		} else {
			t.FailoverTimeout = d
		}
	}
	if len(bad) > 0 {
		return t, fmt.Errorf("ignoring Consul overrides: %s", strings.Join(bad, "; "))
	}
	return t, nil
}

// parseMillis reads a plain integer as milliseconds, the unit sentinel.conf
// uses, or a Go duration.
func parseMillis(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 1 {
			return 0, fmt.Errorf("not positive")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < time.Millisecond {
		err = fmt.Errorf("too small")
	}
	return d, err
}

// tunables returns the node's sentinel settings with Consul's overrides.
func (n *Node) tunables(ctx context.Context) sentinel.Tunables {
	base := sentinel.Tunables{
		Quorum: n.o.Quorum, DownAfter: n.o.DownAfter, FailoverTimeout: n.o.FailoverTimeout,
		Password: n.o.Password, AnnounceIP: n.o.AdvertiseAddr, AnnouncePort: n.o.SentinelPort,
	}
	t, err := SentinelTunables(ctx, n.o.Reg, base)
	if err != nil {
		n.log.Warn("sentinel settings from Consul", "error", err)
	}
	if t.Quorum != base.Quorum || t.FailoverTimeout != base.FailoverTimeout {
		n.log.Info("sentinel settings overridden by Consul", "quorum", t.Quorum, "failover_timeout", t.FailoverTimeout)
	}
	return t
}

// Reload re-reads what can change while running (SIGHUP): the Consul
// overrides of the sentinel settings, applied to the running sentinel.
func (n *Node) Reload(ctx context.Context) error {
	t := n.tunables(ctx)
	if err := n.sent.Apply(ctx, MasterName, t); err != nil {
		return fmt.Errorf("apply sentinel settings: %w", err)
	}
	n.log.Info("reloaded sentinel settings", "quorum", t.Quorum, "down_after", t.DownAfter, "failover_timeout", t.FailoverTimeout)
	n.Kick()
	return nil
}
