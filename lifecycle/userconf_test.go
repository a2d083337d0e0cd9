package lifecycle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/suptest"
)

// TestCheckUserConfig: the servers themselves judge the user's directives,
// with their own messages, before anything starts.
func TestCheckUserConfig(t *testing.T) {
	sup := suptest.Start(t, hclog.NewNullLogger())
	inc := filepath.Join(t.TempDir(), "bad.conf")
	if err := os.WriteFile(inc, []byte("maxmemory 64mb\nmaxmemory-polcy allkeys-lru\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		o       UserConfigCheck
		wantErr []string
	}{
		{"valid redis and sentinel", UserConfigCheck{RedisUser: []string{"maxmemory 64mb", "maxmemory-policy allkeys-lru", "save 900 1", "io-threads 2"},
			RedisUserSets: []string{"save"}, SentinelUser: []string{"sentinel deny-scripts-reconfig yes", "loglevel verbose"}}, nil},
		{"nothing given", UserConfigCheck{}, nil},
		// Redis 7 and Valkey: "Bad directive ..."; Redis 8 starts, then finds
		// no module owns the directive.
		{"unknown directive", UserConfigCheck{RedisUser: []string{"maxmemory 64mb", "maxmemroy 1gb"}},
			[]string{"'maxmemroy 1gb'", "Bad directive or wrong number of arguments|Unresolved Configuration(s) Detected"}},
		{"invalid value", UserConfigCheck{RedisUser: []string{"maxmemory-policy sometimes"}},
			[]string{"'maxmemory-policy sometimes'", "argument(s) must be one of the following"}},
		{"in an included file", UserConfigCheck{RedisInclude: []string{inc}}, []string{"'maxmemory-polcy allkeys-lru'", "Bad directive|Unresolved Configuration"}},
		{"unknown module", UserConfigCheck{RedisUser: []string{"loadmodule /nonexistent/module.so"}}, []string{"/nonexistent/module.so"}},
		{"sentinel", UserConfigCheck{SentinelUser: []string{"sentinel deny-scripts-reconfig perhaps"}},
			[]string{"SENTINEL_CONFIG_EXTRA", "'sentinel deny-scripts-reconfig perhaps'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Sup, o.TempDir, o.Timeout = sup, t.TempDir(), 20*time.Second
			o.ServerPath, o.SentinelPath = harness.NeedBinary(t, "redis-server"), harness.NeedBinary(t, "redis-sentinel")
			start := time.Now()
			err := CheckUserConfig(context.Background(), o)
			t.Logf("took %s: %v", time.Since(start).Round(time.Millisecond), err)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrUserConfig) {
				t.Fatalf("err = %v, want ErrUserConfig", err)
			}
			for _, w := range tc.wantErr { // a|b: either
				found := false
				for _, alt := range strings.Split(w, "|") {
					found = found || strings.Contains(err.Error(), alt)
				}
				if !found {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestAppendUserLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sentinel.conf")
	if err := os.WriteFile(path, []byte("port 26379\nsentinel myid abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lines := []string{"loglevel verbose", "sentinel deny-scripts-reconfig yes"}
	for range 3 { // every start: one copy, last
		if err := appendUserLines(path, lines); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	want := "port 26379\nsentinel myid abc\n# SENTINEL_CONFIG_EXTRA: loglevel, sentinel deny-scripts-reconfig\nloglevel verbose\nsentinel deny-scripts-reconfig yes\n"
	if string(b) != want {
		t.Errorf("sentinel.conf:\n%s\nwant:\n%s", b, want)
	}
}
