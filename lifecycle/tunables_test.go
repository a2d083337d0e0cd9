package lifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/sentinel"
)

type mapKV map[string]string

func (m mapKV) Get(_ context.Context, k string) (string, bool, error) {
	v, ok := m[k]
	return v, ok, nil
}

func TestSentinelTunables(t *testing.T) {
	base := sentinel.Tunables{Quorum: 2, DownAfter: 5 * time.Second, FailoverTimeout: time.Minute}
	tests := []struct {
		name    string
		kv      mapKV
		quorum  int
		timeout time.Duration
		err     string
	}{
		{"no keys", mapKV{}, 2, time.Minute, ""},
		{"quorum key", mapKV{registry.KeySentinelQuorum: "3"}, 3, time.Minute, ""},
		{"failover-timeout in milliseconds", mapKV{registry.KeySentinelFailoverTimeout: "180000"}, 2, 3 * time.Minute, ""},
		{"failover-timeout as a duration", mapKV{registry.KeySentinelFailoverTimeout: "90s"}, 2, 90 * time.Second, ""},
		{"bad quorum is ignored and named", mapKV{registry.KeySentinelQuorum: "two", registry.KeySentinelFailoverTimeout: "1000"}, 2, time.Second, registry.KeySentinelQuorum},
		{"zero quorum", mapKV{registry.KeySentinelQuorum: "0"}, 2, time.Minute, "must be a whole number from 1"},
		{"bad timeout", mapKV{registry.KeySentinelFailoverTimeout: "-5"}, 2, time.Minute, registry.KeySentinelFailoverTimeout},
		{"timeout over Sentinel's int", mapKV{registry.KeySentinelFailoverTimeout: "3000000000"}, 2, time.Minute, "must be 1 to 2147483647 milliseconds"},
		{"timeout at Sentinel's limit", mapKV{registry.KeySentinelFailoverTimeout: "2147483647"}, 2, 2147483647 * time.Millisecond, ""},
		{"timeout overflowing a Duration", mapKV{registry.KeySentinelFailoverTimeout: "9223372036854775"}, 2, time.Minute, registry.KeySentinelFailoverTimeout},
		{"timeout duration over", mapKV{registry.KeySentinelFailoverTimeout: "720h"}, 2, time.Minute, registry.KeySentinelFailoverTimeout},
		{"quorum over Sentinel's int", mapKV{registry.KeySentinelQuorum: "3000000000"}, 2, time.Minute, "from 1 to 2147483647"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SentinelTunables(context.Background(), tc.kv, base)
			if got.Quorum != tc.quorum || got.FailoverTimeout != tc.timeout || got.DownAfter != base.DownAfter {
				t.Errorf("got quorum %d timeout %s, want %d %s", got.Quorum, got.FailoverTimeout, tc.quorum, tc.timeout)
			}
			if (err != nil) != (tc.err != "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("error %v, want one saying %q", err, tc.err)
			}
		})
	}
}

func TestCheckQuorum(t *testing.T) {
	base := sentinel.Tunables{Quorum: 2}
	tests := []struct {
		name      string
		quorum    int
		sentinels int
		want      int
		ignored   bool
	}{
		{"within", 3, 3, 3, false},
		{"above the sentinels", 4, 3, 2, true},
		{"base quorum is kept even above", 2, 1, 2, false},
		{"lower", 1, 3, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := checkQuorum(sentinel.Tunables{Quorum: tc.quorum}, base, tc.sentinels)
			if got.Quorum != tc.want || (reason != "") != tc.ignored {
				t.Errorf("quorum %d, reason %q; want %d, ignored %t", got.Quorum, reason, tc.want, tc.ignored)
			}
			if tc.ignored && !strings.Contains(reason, registry.KeySentinelQuorum) {
				t.Errorf("reason %q does not name %s", reason, registry.KeySentinelQuorum)
			}
		})
	}
}
