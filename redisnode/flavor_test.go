package redisnode

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestFindBinaries(t *testing.T) {
	installed := func(names ...string) func(string) (string, error) {
		return func(n string) (string, error) {
			for _, x := range names {
				if x == n {
					return "/usr/bin/" + n, nil
				}
			}
			return "", exec.ErrNotFound
		}
	}
	redis := []string{"redis-server", "redis-sentinel", "redis-check-rdb", "redis-check-aof"}
	valkey := []string{"valkey-server", "valkey-sentinel", "valkey-check-rdb", "valkey-check-aof"}
	both := append(append([]string{}, redis...), valkey...)
	for _, tc := range []struct {
		name      string
		flavor    Flavor
		installed []string
		want      Flavor
		err       string
	}{
		{"auto finds redis", FlavorAuto, redis, FlavorRedis, ""},
		{"auto finds valkey", FlavorAuto, valkey, FlavorValkey, ""},
		{"auto prefers redis", FlavorAuto, both, FlavorRedis, ""},
		{"valkey asked for", FlavorValkey, both, FlavorValkey, ""},
		{"redis asked for, only valkey", FlavorRedis, valkey, "", "redis-server is not on PATH"},
		{"nothing", FlavorAuto, nil, "", "neither redis-server nor valkey-server"},
		{"no checker", FlavorValkey, valkey[:2], "", "valkey-check-rdb is not on PATH: apt-get install -y valkey-server valkey-sentinel valkey-tools"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := FindBinaries(tc.flavor, installed(tc.installed...))
			if tc.err != "" {
				if !errors.Is(err, ErrNoServer) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrNoServer saying %q", err, tc.err)
				}
				return
			}
			if err != nil || b.Flavor != tc.want {
				t.Fatalf("FindBinaries = %+v, %v; want %s", b, err, tc.want)
			}
			p := string(tc.want) + "-"
			if b.Server != "/usr/bin/"+p+"server" || b.Sentinel != "/usr/bin/"+p+"sentinel" ||
				b.CheckRDB != "/usr/bin/"+p+"check-rdb" || b.CheckAOF != "/usr/bin/"+p+"check-aof" {
				t.Fatalf("programs %+v", b)
			}
		})
	}
}

func TestServerVersion(t *testing.T) {
	for _, tc := range []struct {
		info, want string
	}{
		// INFO server of Valkey 8.1.1 (Debian 13): redis_version is the
		// Redis version it is compatible with.
		{"# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.1\r\n", "Valkey 8.1.1"},
		{"# Server\r\nredis_version:8.0.2\r\nredis_mode:standalone\r\n", "Redis 8.0.2"},
		{"redis_version:7.0.15\n", "Redis 7.0.15"},
	} {
		if got := ParseInfo(tc.info).Server(); got != tc.want {
			t.Errorf("Server() = %q, want %q", got, tc.want)
		}
	}
}

func TestParseVersionOutput(t *testing.T) {
	for out, want := range map[string]string{
		"Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ba5f6f7bb4f1f1ad\n": "redis 7.0.15",
		"Redis server v=8.0.2 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=b843bbd074c0e1da\n":  "redis 8.0.2",
		"Valkey server v=8.1.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=384b3c0d511f998a\n": "valkey 8.1.1",
	} {
		f, v, err := ParseVersionOutput(out)
		if err != nil || string(f)+" "+v != want {
			t.Errorf("ParseVersionOutput(%q) = %s %s, %v; want %s", out, f, v, err, want)
		}
	}
	if _, _, err := ParseVersionOutput("KeyDB server v=6.3.4"); err == nil {
		t.Error("KeyDB accepted")
	}
}

func TestPasswordRewriteProblem(t *testing.T) {
	for _, tc := range []struct {
		f    Flavor
		pw   string
		fail bool
	}{
		{FlavorValkey, `p a"ss`, true}, {FlavorValkey, `back\slash`, true},
		{FlavorValkey, `p a'ss #ü`, false}, {FlavorRedis, `p a"ss\wo'rd`, false},
	} {
		err := PasswordRewriteProblem(tc.f, tc.pw)
		if (err != nil) != tc.fail || (err != nil && (!errors.Is(err, ErrPasswordRewrite) || strings.Contains(err.Error(), tc.pw))) {
			t.Errorf("%s %q: %v", tc.f, tc.pw, err)
		}
	}
}
