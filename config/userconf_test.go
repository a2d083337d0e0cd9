package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUserConfigSettings(t *testing.T) {
	inc := t.TempDir()
	if err := os.WriteFile(filepath.Join(inc, "10-memory.conf"), []byte("maxmemory 64mb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(nil, env{"REDIS_FLAVOR": "Valkey", "REDIS_CONFIG_INCLUDE_DIR": inc,
		"REDIS_CONFIG_EXTRA":    "maxmemory-policy allkeys-lru\nuser alice on >alicepw ~* +@all\n",
		"SENTINEL_CONFIG_EXTRA": "sentinel deny-scripts-reconfig yes"}.with().lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisFlavor != FlavorValkey || len(c.RedisConfigExtra) != 2 || len(c.SentinelConfigExtra) != 1 {
		t.Errorf("config %+v", c)
	}
	if len(c.RedisIncludeFiles) != 1 || c.RedisIncludeFiles[0] != filepath.Join(inc, "10-memory.conf") {
		t.Errorf("include files %q", c.RedisIncludeFiles)
	}
	if got := strings.Join(c.RedisUserSets, ","); got != "maxmemory-policy,user,maxmemory" {
		t.Errorf("user sets %s", got)
	}
	if c, err := Load(nil, env{"REDIS_CONFIG_INCLUDE_DIR": "off"}.with().lookup); err != nil || c.RedisIncludeDir != "" || c.RedisFlavor != "" {
		t.Errorf("off / auto: %+v, %v", c, err)
	}
}

func TestUserConfigRefused(t *testing.T) {
	owned := t.TempDir()
	if err := os.WriteFile(filepath.Join(owned, "a.conf"), []byte("maxmemory 1mb\n\ndir /elsewhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env          env
		want, secret string
	}{
		{env{"REDIS_CONFIG_EXTRA": "maxmemory 1gb\nport 7000"}, `REDIS_CONFIG_EXTRA: line 2: "port" is set by redis-autopilot`, ""},
		{env{"REDIS_CONFIG_EXTRA": "masterauth s3cr3t-pw"}, `"masterauth" is set by redis-autopilot and cannot be overridden: the node sets it from REDIS_PASSWORD`, "s3cr3t-pw"},
		{env{"REDIS_CONFIG_EXTRA": `user bob on ">s3cr3t-pw`}, "REDIS_CONFIG_EXTRA: line 1: unbalanced quotes", "s3cr3t-pw"},
		{env{"SENTINEL_CONFIG_EXTRA": "sentinel auth-pass mymaster s3cr3t-pw"}, `SENTINEL_CONFIG_EXTRA: line 1: "sentinel auth-pass"`, "s3cr3t-pw"},
		{env{"REDIS_CONFIG_INCLUDE_DIR": owned}, "REDIS_CONFIG_INCLUDE_DIR=" + owned + ": " + filepath.Join(owned, "a.conf") + `:3: "dir" is set by redis-autopilot`, ""},
		{env{"REDIS_CONFIG_INCLUDE_DIR": "/nonexistent/conf.d"}, "must be an existing directory", ""},
		{env{"REDIS_FLAVOR": "keydb"}, "REDIS_FLAVOR=keydb: must be one of auto, redis, valkey", ""},
	} {
		_, err := Load(nil, tc.env.with().lookup)
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want a config error holding %q", tc.env, err, tc.want)
		}
		if tc.secret != "" && err != nil && strings.Contains(err.Error(), tc.secret) {
			t.Errorf("%v: message reveals the secret: %v", tc.env, err)
		}
	}
}
