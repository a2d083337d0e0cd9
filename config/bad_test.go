package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestLoadBad(t *testing.T) {
	ks := rsaKeys(t)
	k, other := ks[0], ks[1]
	const jsonSecret = `{"acl": {"tokens": {"default": "s3cr3t-acl"}}`
	certFile := tempFile(t, "not a certificate")
	tests := []struct {
		name    string
		env     env
		args    []string
		wantVar string
		wantIn  string // further text the message must hold
		secrets []string
	}{
		{"port too big", env{"REDIS_PORT": "70000"}, nil, "REDIS_PORT", "REDIS_PORT=70000: must be a port number 1-65535", nil},
		{"port zero", env{"SENTINEL_PORT": "0"}, nil, "SENTINEL_PORT", "port number", nil},
		{"same ports", env{"SENTINEL_PORT": "6379"}, nil, "SENTINEL_PORT", "REDIS_PORT", nil},
		{"relative path", env{"REDIS_DATA_DIR": "data"}, nil, "REDIS_DATA_DIR", "absolute", nil},
		{"negative duration", env{"POLL_INTERVAL": "-5s"}, nil, "POLL_INTERVAL", "positive duration", nil},
		{"zero seconds", env{"MASTER_WAIT_TIMEOUT": "0"}, nil, "MASTER_WAIT_TIMEOUT", "positive duration", nil},
		{"duration garbage", env{"BACKUP_TTL": "daily"}, nil, "BACKUP_TTL", "positive duration", nil},
		{"ttl not above poll", env{"CHECK_TTL": "5s"}, nil, "CHECK_TTL", "POLL_INTERVAL", nil},
		{"stall timeout zero", env{"BACKUP_STALL_TIMEOUT": "0s"}, nil, "BACKUP_STALL_TIMEOUT", "positive duration", nil},
		{"negative keep", env{"BACKUP_KEEP": "-1"}, nil, "BACKUP_KEEP", ">= 0", nil},
		{"quorum zero", env{"SENTINEL_QUORUM": "0"}, nil, "SENTINEL_QUORUM", "from 1 to 2147483647", nil},
		{"quorum over Sentinel's int", env{"SENTINEL_QUORUM": "3000000000"}, nil, "SENTINEL_QUORUM", "from 1 to 2147483647", nil},
		{"down-after over Sentinel's limit", env{"SENTINEL_DOWN_AFTER": "720h"}, nil, "SENTINEL_DOWN_AFTER", "at most 2147483647ms", nil},
		{"down-after one ms over", env{"SENTINEL_DOWN_AFTER": "2147483648ms"}, nil, "SENTINEL_DOWN_AFTER", "at most 2147483647ms", nil},
		{"failover-timeout in seconds over", env{"SENTINEL_FAILOVER_TIMEOUT": "3000000"}, nil, "SENTINEL_FAILOVER_TIMEOUT", "Sentinel's limit", nil},
		{"failover-timeout overflowing", env{"SENTINEL_FAILOVER_TIMEOUT": "9223372036854775807"}, nil, "SENTINEL_FAILOVER_TIMEOUT", "positive duration", nil},
		{"failover-timeout zero", env{"SENTINEL_FAILOVER_TIMEOUT": "0ms"}, nil, "SENTINEL_FAILOVER_TIMEOUT", "positive duration", nil},
		{"failover-timeout flag over", env{}, []string{"--sentinel-failover-timeout=597h"}, "--sentinel-failover-timeout", "Sentinel's limit", nil},
		{"restart limit", env{"RESTART_LIMIT": "x"}, nil, "RESTART_LIMIT", "whole number", nil},
		{"compression", env{"BACKUP_COMPRESSION": "lz4"}, nil, "BACKUP_COMPRESSION", "zstd, gzip", nil},
		{"bool", env{"RESTORE_ALLOW_EMPTY": "maybe"}, nil, "RESTORE_ALLOW_EMPTY", "yes or no", nil},
		{"no such user", env{"REDIS_USER": "no-such-user-here"}, nil, "REDIS_USER", "not a user of this system", nil},
		{"log level", env{"LOG_LEVEL": "loud"}, nil, "LOG_LEVEL", "DEBUG", nil},
		{"log format", env{"LOG_FORMAT": "xml"}, nil, "LOG_FORMAT", "text, json", nil},
		{"advertise not IP", env{"ADVERTISE_ADDR": "my-host"}, nil, "ADVERTISE_ADDR", "IP address", nil},
		{"http addr", env{"HTTP_ADDR": "8008"}, nil, "HTTP_ADDR", "off", nil},
		{"consul addr", env{"CONSUL_HTTP_ADDR": "localhost"}, nil, "CONSUL_HTTP_ADDR", "host:port", nil},
		{"consul ssl", env{"CONSUL_HTTP_SSL": "si"}, nil, "CONSUL_HTTP_SSL", "true, false", nil},
		{"consul cacert missing", env{"CONSUL_CACERT": "/nonexistent/ca.pem"}, nil, "CONSUL_CACERT", "no such file", nil},
		{"consul cacert bad", env{"CONSUL_CACERT": certFile}, nil, "CONSUL_CACERT", "", nil},
		{"consul cert without key", env{"CONSUL_CLIENT_CERT": certFile}, nil, "CONSUL_CLIENT_KEY", "CONSUL_CLIENT_CERT", nil},
		{"consul local config", env{"CONSUL_LOCAL_CONFIG": jsonSecret}, nil, "CONSUL_LOCAL_CONFIG", "JSON", []string{"s3cr3t-acl"}},
		{"manta url", env{"MANTA_URL": "ftp://manta"}, nil, "MANTA_URL", "URL", nil},
		{"manta user only", env{"MANTA_USER": "alice"}, nil, "MANTA_KEY_ID", "MANTA_USER", nil},
		{"manta key only", env{"MANTA_PRIVATE_KEY": k.hashEncoded}, nil, "MANTA_USER", "MANTA_PRIVATE_KEY", []string{k.hashEncoded}},
		{"manta key garbage", manta(k, k.md5).with("MANTA_PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----#c2VjcmV0c2VjcmV0#-----END RSA PRIVATE KEY-----#"), nil,
			"MANTA_PRIVATE_KEY", "does not parse as a PEM private key (newlines may be written as #)", []string{"c2VjcmV0c2VjcmV0"}},
		{"manta key ed25519", manta(k, k.md5).with("MANTA_PRIVATE_KEY", ed25519Key(t)), nil, "MANTA_PRIVATE_KEY", "RSA or ECDSA", nil},
		{"manta key id malformed", manta(k, "abc"), nil, "MANTA_KEY_ID", "fingerprint", []string{k.hashEncoded}},
		{"manta key id mismatch", manta(k, other.md5), nil, "MANTA_KEY_ID", k.sha256, []string{k.hashEncoded}},
		{"manta and backup dir", manta(k, k.sha256).with("BACKUP_DIR", "/backups"), nil, "BACKUP_DIR", "set either BACKUP_DIR or MANTA_*", []string{k.hashEncoded}},
		{"manta bucket alone", env{"MANTA_BUCKET": "/alice/stor/x"}, nil, "MANTA_BUCKET", "not configured", nil},
		{"s3 and backup dir", env{"S3_URL": "s3://backups", "BACKUP_DIR": "/backups"}, nil, "BACKUP_DIR", "so is S3_URL (s3://backups): set only one of BACKUP_DIR, MANTA_* and S3_URL", nil},
		{"s3 and manta", manta(k, k.sha256).with("S3_URL", "s3://backups/redis"), nil, "S3_URL", "so is Manta (MANTA_USER", []string{k.hashEncoded}},
		{"s3 url scheme", env{"S3_URL": "https://backups"}, nil, "S3_URL", "s3://BUCKET", nil},
		{"s3 bucket name", env{"S3_URL": "s3://Backups_1"}, nil, "S3_URL", "bucket name", nil},
		{"s3 empty segment", env{"S3_URL": "s3://backups/a//b"}, nil, "S3_URL", "empty path segments", nil},
		{"s3 endpoint", env{"S3_URL": "s3://backups", "S3_ENDPOINT": "minio:9000"}, nil, "S3_ENDPOINT", "http(s) URL", nil},
		{"s3 glacier", env{"S3_URL": "s3://backups", "S3_STORAGE_CLASS": "GLACIER"}, nil, "S3_STORAGE_CLASS", "retrieval", nil},
		{"s3 sse", env{"S3_URL": "s3://backups", "S3_SSE": "aes"}, nil, "S3_SSE", "AES256 or aws:kms", nil},
		{"s3 kms without sse", env{"S3_URL": "s3://backups", "S3_SSE_KMS_KEY_ID": "k1"}, nil, "S3_SSE_KMS_KEY_ID", "S3_SSE=aws:kms", nil},
		{"s3 secret file without id", env{"S3_URL": "s3://backups", "AWS_SECRET_ACCESS_KEY_FILE": tempFile(t, "s3cr3t-aws\n")}, nil, "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID is not", []string{"s3cr3t-aws"}},
		{"s3 option alone", env{"S3_ENDPOINT": "http://minio:9000"}, nil, "S3_ENDPOINT", "S3_URL is not", nil},
		{"bad flag value", env{}, []string{"--redis-port=0"}, "--redis-port", "port number", nil},
		{"unknown flag", env{}, []string{"--no-such-flag"}, "no-such-flag", "", nil},
		{"stray argument", env{}, []string{"extra"}, "extra", "unexpected argument", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.env.with()
			_, err := Load(tt.args, e.lookup)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load error = %v (%T); want *config.Error", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantVar) || !strings.Contains(msg, tt.wantIn) || strings.Contains(msg, "\n") {
				t.Errorf("message %q: want one line naming %q and holding %q", msg, tt.wantVar, tt.wantIn)
			}
			for _, s := range append(tt.secrets, canaryPassword, canaryToken) {
				if strings.Contains(msg, s) || strings.Contains(ce.Value, s) {
					t.Errorf("message %q reveals a secret", msg)
				}
			}
		})
	}
}

// ed25519Key returns an OpenSSH-format ed25519 private key, '#'-encoded.
func ed25519Key(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(pem.EncodeToMemory(block)), "\n", "#")
}

// ecdsaKey returns a SEC 1 PEM P-256 key, '#'-encoded, and its SHA256
// fingerprint.
func ecdsaKey(t *testing.T) (encoded, sha256 string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	return strings.ReplaceAll(string(p), "\n", "#"), ssh.FingerprintSHA256(pub)
}

func tempFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.pem")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
