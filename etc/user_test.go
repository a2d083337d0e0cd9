package etc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/redis/go-redis/v9"
)

func TestParseUserLines(t *testing.T) {
	ds, lines, err := ParseUserLines("REDIS_CONFIG_EXTRA", "# mine\n\nmaxmemory 64mb\n  MaxMemory-Policy allkeys-lru  \nsave \"\"\nsentinel notification-script mymaster /x.sh\n")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Name+"@"+d.Where)
	}
	want := "maxmemory@REDIS_CONFIG_EXTRA line 3,maxmemory-policy@REDIS_CONFIG_EXTRA line 4,save@REDIS_CONFIG_EXTRA line 5,sentinel notification-script@REDIS_CONFIG_EXTRA line 6"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("directives %s\nwant %s", got, want)
	}
	if len(lines) != 4 || lines[1] != "MaxMemory-Policy allkeys-lru" {
		t.Errorf("lines %q", lines)
	}
	if _, _, err := ParseUserLines("X", `maxmemory "64mb`); !errors.Is(err, ErrUnbalancedQuotes) {
		t.Errorf("unbalanced quotes: err = %v", err)
	}
	_, _, err = ParseUserLines("/etc/redis/conf.d/a.conf", "io-threads 4\nfoo \"bar")
	if err == nil || !strings.HasPrefix(err.Error(), "/etc/redis/conf.d/a.conf:2:") {
		t.Errorf("a file's error names file:line: %v", err)
	}
}

func TestOwnedDirectivesRefused(t *testing.T) {
	for _, tc := range []struct {
		text, check, want string
	}{
		{"maxmemory 1gb\nPORT 7000", "redis", `X line 2: "port" is set by redis-autopilot and cannot be overridden: the node sets it from REDIS_PORT`},
		{"replicaof 10.0.0.1 6379", "redis", "the node and Sentinel decide which node is master"},
		{"slaveof 10.0.0.1 6379", "redis", "the node and Sentinel decide which node is master"},
		{"requirepass x", "redis", "REDIS_PASSWORD"},
		{"appendonly no", "redis", "AOF on"},
		{"aof-timestamp-enabled yes", "redis", `"aof-timestamp-enabled"`},
		{"min-replicas-to-write 1", "redis", "fence"},
		{"daemonize yes", "redis", "foreground"},
		{"rename-command CONFIG x", "redis", "by name"},
		{"include /x.conf", "redis", "REDIS_CONFIG_INCLUDE_DIR"},
		{"sentinel monitor m 1.2.3.4 6379 2", "sentinel", "the node names the master"},
		{"SENTINEL down-after-milliseconds mymaster 100", "sentinel", "SENTINEL_DOWN_AFTER"},
		{"port 1", "sentinel", "SENTINEL_PORT"},
	} {
		ds, _, err := ParseUserLines("X", tc.text)
		if err != nil {
			t.Fatal(err)
		}
		check := CheckRedisOwned
		if tc.check == "sentinel" {
			check = CheckSentinelOwned
		}
		err = check(ds)
		var owned *OwnedError
		if !errors.As(err, &owned) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want an OwnedError saying %q", tc.text, err, tc.want)
		}
	}
	for check, text := range map[string]string{
		"redis":    "maxmemory 64mb\nmaxmemory-policy allkeys-lru\nsave 900 1\nio-threads 2\nloglevel verbose\nuser alice on >pw ~* +@all",
		"sentinel": "sentinel notification-script mymaster /x.sh\nloglevel verbose\nsentinel deny-scripts-reconfig yes",
	} {
		ds, _, _ := ParseUserLines("X", text)
		f := CheckRedisOwned
		if check == "sentinel" {
			f = CheckSentinelOwned
		}
		if err := f(ds); err != nil {
			t.Errorf("%s: %v", check, err)
		}
	}
}

func TestIncludeFiles(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"b.conf": "maxmemory 1mb\n", "a.conf": "io-threads 2\n", "c.txt": "port 1\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, ds, err := IncludeFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || filepath.Base(files[0]) != "a.conf" || filepath.Base(files[1]) != "b.conf" {
		t.Errorf("files %q", files)
	}
	if len(ds) != 2 || ds[1].Name != "maxmemory" || ds[1].Where != filepath.Join(dir, "b.conf")+":1" {
		t.Errorf("directives %+v", ds)
	}
	if files, _, err := IncludeFiles(filepath.Join(dir, "missing")); err != nil || len(files) != 0 {
		t.Errorf("missing dir: %q, %v", files, err)
	}
}

func TestUserSaveReplacesTheNodes(t *testing.T) {
	var b strings.Builder
	err := RenderRedis(&b, RedisConf{Port: 6379, Dir: "/data", User: []string{"save 900 1", "maxmemory 64mb"},
		Include: []string{"/etc/redis/conf.d/a b.conf"}, UserSets: []string{"save", "maxmemory"}})
	if err != nil {
		t.Fatal(err)
	}
	conf := b.String()
	if strings.Contains(conf, "save 3600") || !strings.Contains(conf, "appendfsync everysec") {
		t.Errorf("the node's save should give way to the user's, and only it:\n%s", conf)
	}
	if !strings.HasSuffix(conf, "save 900 1\nmaxmemory 64mb\n# REDIS_CONFIG_INCLUDE_DIR\ninclude \"/etc/redis/conf.d/a b.conf\"\n") {
		t.Errorf("the user's lines and includes come last:\n%s", conf)
	}
}

// TestUserConfigSurvivesRewrite: Sentinel makes redis CONFIG REWRITE its
// redis.conf on every failover. The user's lines and the include must
// still be there after, and a redis restarted from the rewritten file has
// the same settings.
func TestUserConfigSurvivesRewrite(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "conf.d", "mine.conf")
	if err := os.MkdirAll(filepath.Dir(inc), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inc, []byte("maxmemory-policy allkeys-lru\nhz 20\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := testPassword
	if harness.Flavor() == "valkey" {
		// Valkey 8.1.1's CONFIG REWRITE writes a password holding " or \
		// unescaped (redis.PasswordRewriteProblem); the node refuses those.
		pw = `p a'ss #ü`
	}
	c := RedisConf{Port: harness.FreePort(t), Bind: "127.0.0.1", Dir: dir, Password: pw, AppendOnly: true,
		User: []string{"maxmemory 64mb", "save 900 1"}, Include: []string{inc}, UserSets: []string{"maxmemory", "save", "maxmemory-policy", "hz"}}
	want := map[string]string{"maxmemory": "67108864", "save": "900 1", "maxmemory-policy": "allkeys-lru", "hz": "20"}
	path := filepath.Join(dir, "redis.conf")
	writeConf(t, path, func(w io.Writer) error { return RenderRedis(w, c) })
	ctx := context.Background()
	addr := fmt.Sprintf("127.0.0.1:%d", c.Port)
	start := func() *redis.Client { // from the file as it is, as the supervisor restarts redis
		startWithConf(t, "redis-server", path)
		rc := redis.NewClient(&redis.Options{Addr: addr, Password: pw, MaxRetries: -1})
		t.Cleanup(func() { rc.Close() })
		harness.Eventually(t, 10*time.Second, func() error { return rc.Ping(ctx).Err() })
		return rc
	}
	rc := start()
	check := func(when string) {
		t.Helper()
		for k, v := range want {
			got, err := rc.ConfigGet(ctx, k).Result()
			if err != nil || got[k] != v {
				t.Errorf("%s: CONFIG GET %s = %q, %v; want %q", when, k, got[k], err, v)
			}
		}
	}
	check("at start")
	if err := rc.ConfigSet(ctx, "replica-priority", "50").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.ConfigRewrite(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`include "` + inc + `"`, "maxmemory 64mb", "save 900 1", "replica-priority 50"} {
		if !strings.Contains(string(conf), line+"\n") {
			t.Errorf("after CONFIG REWRITE redis.conf lacks %q:\n%s", line, conf)
		}
	}
	if err := rc.Shutdown(ctx).Err(); err != nil && !strings.Contains(err.Error(), "closed") && err.Error() != "EOF" {
		t.Logf("shutdown: %v", err)
	}
	rc = start()
	check("restarted from the rewritten file")
}
