package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/etc"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

// KV reads Consul keys.
type KV interface {
	Get(ctx context.Context, key string) (value string, found bool, err error)
}

// SentinelTunables are the sentinel settings from the options, with the
// shell version's Consul keys overriding quorum and failover-timeout. A
// key that does not parse or is out of Sentinel's range is reported in
// the error and ignored: whoever can write Consul's KV must not be able to
// make every node's sentinel refuse to start (failover-timeout=3000000000
// did, before the range check).
func SentinelTunables(ctx context.Context, kv KV, base sentinel.Tunables) (sentinel.Tunables, error) {
	t := base
	var bad []string
	if v, ok, err := kv.Get(ctx, registry.KeySentinelQuorum); err != nil {
		return base, err
	} else if ok {
		q, perr := strconv.Atoi(strings.TrimSpace(v))
		if perr != nil || q < 1 || q > etc.MaxQuorum {
			bad = append(bad, fmt.Sprintf("%s=%q: must be a whole number from 1 to %d", registry.KeySentinelQuorum, v, etc.MaxQuorum))
		} else {
			t.Quorum = q
		}
	}
	if v, ok, err := kv.Get(ctx, registry.KeySentinelFailoverTimeout); err != nil {
		return base, err
	} else if ok {
		d, perr := parseMillis(v)
		if perr != nil {
			bad = append(bad, fmt.Sprintf("%s=%q: must be 1 to %d milliseconds (as in sentinel.conf) or a duration like 60s",
				registry.KeySentinelFailoverTimeout, v, etc.MaxSentinelTime.Milliseconds()))
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
// uses, or a Go duration; either must be within 1ms and
// etc.MaxSentinelTime (checked before multiplying, which would overflow).
func parseMillis(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 1 || n > etc.MaxSentinelTime.Milliseconds() {
			return 0, errors.New("out of range")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && (d < time.Millisecond || d > etc.MaxSentinelTime) {
		err = errors.New("out of range")
	}
	return d, err
}

// checkQuorum keeps base's quorum when t's exceeds the sentinels that
// monitor the master (this one and the others it knows): no failover
// could ever be agreed. It returns the reason when it did.
func checkQuorum(t, base sentinel.Tunables, sentinels int) (sentinel.Tunables, string) {
	if t.Quorum <= sentinels || t.Quorum == base.Quorum {
		return t, ""
	}
	reason := fmt.Sprintf("%s=%d exceeds the %d sentinels monitoring the master: no failover could be agreed; keeping quorum %d",
		registry.KeySentinelQuorum, t.Quorum, sentinels, base.Quorum)
	t.Quorum = base.Quorum
	return t, reason
}

// tunables returns the node's sentinel settings with Consul's overrides.
func (n *Node) tunables(ctx context.Context) sentinel.Tunables {
	base := n.baseTunables()
	t, err := SentinelTunables(ctx, n.o.Reg, base)
	if err != nil {
		n.log.Warn("sentinel settings from Consul", "error", err)
	}
	if t.Quorum != base.Quorum || t.FailoverTimeout != base.FailoverTimeout {
		n.log.Info("sentinel settings overridden by Consul", "quorum", t.Quorum, "failover_timeout", t.FailoverTimeout)
	}
	return t
}

// baseTunables are the sentinel settings from the options alone.
func (n *Node) baseTunables() sentinel.Tunables {
	return sentinel.Tunables{
		Quorum: n.o.Quorum, DownAfter: n.o.DownAfter, FailoverTimeout: n.o.FailoverTimeout,
		Password: n.o.Password, AnnounceIP: n.o.AdvertiseAddr, AnnouncePort: n.o.SentinelPort,
	}
}

// Reload re-reads what can change while running (SIGHUP): the Consul
// overrides of the sentinel settings, applied to the running sentinel.
func (n *Node) Reload(ctx context.Context) error {
	t := n.tunables(ctx)
	if m, err := n.sent.Master(ctx, MasterName); err == nil {
		var reason string
		if t, reason = checkQuorum(t, n.baseTunables(), m.NumOtherSentinels()+1); reason != "" {
			n.log.Warn("ignoring the Consul quorum", "reason", reason)
		}
	}
	if err := n.sent.Apply(ctx, MasterName, t); err != nil {
		return fmt.Errorf("apply sentinel settings: %w", err)
	}
	n.log.Info("reloaded sentinel settings", "quorum", t.Quorum, "down_after", t.DownAfter, "failover_timeout", t.FailoverTimeout)
	n.Kick()
	return nil
}
