package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretFiles: every secret has a *_FILE variant; the file's content
// (one trailing newline dropped) is the value; errors name the _FILE
// variable and its path, never the content.
func TestSecretFiles(t *testing.T) {
	k := rsaKeys(t)[0]
	pemKey := strings.ReplaceAll(k.hashEncoded, "#", "\n")
	pw := tempFile(t, "pa ss\"word\nline two\n")
	keyFile := tempFile(t, pemKey)
	tokenFile := tempFile(t, "tok-from-file\r\n")
	c, err := Load(nil, env{"REDIS_PASSWORD_FILE": pw, "CONSUL_HTTP_TOKEN_FILE": tokenFile,
		"MANTA_USER": "alice", "MANTA_KEY_ID": k.md5, "MANTA_PRIVATE_KEY_FILE": keyFile}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "RedisPassword", c.RedisPassword, "pa ss\"word\nline two")
	wantEq(t, "Token", c.Consul.Token, "tok-from-file")
	if c.MantaKey == nil {
		t.Error("MANTA_PRIVATE_KEY_FILE did not load the key")
	}
	for _, s := range []string{c.RedisPassword, "tok-from-file", strings.TrimSuffix(pemKey, "\n")} {
		if !contains(c.Secrets, s) {
			t.Errorf("Secrets lacks a secret read from a file (%d bytes)", len(s))
		}
	}

	dir := t.TempDir()
	empty := tempFile(t, "\n")
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, maxSecretFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name   string
		env    env
		wantIn string
	}{
		{"both", env{"REDIS_PASSWORD": "x", "REDIS_PASSWORD_FILE": pw}, "set either REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both"},
		{"missing", env{"REDIS_PASSWORD_FILE": "/nonexistent/pw"}, "REDIS_PASSWORD_FILE=/nonexistent/pw: cannot be opened: no such file"},
		{"relative", env{"MANTA_PRIVATE_KEY_FILE": "key.pem"}, "MANTA_PRIVATE_KEY_FILE=key.pem: must be an absolute path"},
		{"directory", env{"CONSUL_HTTP_TOKEN_FILE": dir}, "must be a regular file"},
		{"empty", env{"REDIS_PASSWORD_FILE": empty}, "is empty"},
		{"too big", env{"CONSUL_LOCAL_CONFIG_FILE": big}, "larger than"},
		{"content does not parse", env{"MANTA_USER": "alice", "MANTA_KEY_ID": k.md5, "MANTA_PRIVATE_KEY_FILE": pw}, "MANTA_PRIVATE_KEY_FILE: does not parse"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(nil, tc.env.lookup)
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.wantIn) {
				t.Fatalf("Load error %v, want a *config.Error holding %q", err, tc.wantIn)
			}
			if strings.Contains(err.Error(), "pa ss") || strings.Contains(err.Error(), "line two") {
				t.Errorf("error %q quotes the file's content", err)
			}
		})
	}
}

func TestSecretEnvListsEverySecretAndItsFile(t *testing.T) {
	got := SecretEnv()
	for _, s := range settings {
		if s.Secret && (!contains(got, s.Env) || !contains(got, s.Env+FileSuffix)) {
			t.Errorf("SecretEnv lacks %s or %s%s", s.Env, s.Env, FileSuffix)
		}
	}
	for _, v := range []string{"REDIS_PASSWORD_FILE", "MANTA_PRIVATE_KEY", "CONSUL_HTTP_TOKEN_FILE"} {
		if !contains(got, v) {
			t.Errorf("SecretEnv lacks %s", v)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
