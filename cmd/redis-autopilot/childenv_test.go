package main

import (
	"strings"
	"testing"
)

// The S3 store's credentials never reach redis-server, redis-sentinel or
// consul: childEnv drops every AWS_* variable and the other secrets.
func TestChildEnvHasNoSecrets(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDCHILDENV", "AWS_SECRET_ACCESS_KEY": "s3cr3t-childenv", "AWS_SESSION_TOKEN": "tok-childenv",
		"AWS_SECRET_ACCESS_KEY_FILE": "/run/secrets/aws", "REDIS_PASSWORD": "pw-childenv", "S3_URL": "s3://bucket/p",
	} {
		t.Setenv(k, v)
	}
	env := strings.Join(childEnv(), "\n")
	for _, secret := range []string{"AWS_", "s3cr3t-childenv", "tok-childenv", "AKIDCHILDENV", "pw-childenv"} {
		if strings.Contains(env, secret) {
			t.Errorf("a child's environment holds %q", secret)
		}
	}
	if !strings.Contains(env, "S3_URL=s3://bucket/p") || !strings.Contains(env, "PATH=") {
		t.Errorf("childEnv dropped more than secrets: %q", env)
	}
}
