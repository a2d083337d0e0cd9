package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"golang.org/x/crypto/ssh"
)

// Canary secrets put into every environment; no error may show them.
const (
	canaryPassword = "hunter2-redis-password"
	canaryToken    = "c0ffee-consul-token"
)

type env map[string]string

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

// with returns a copy of e plus the canary secrets and the given pairs.
func (e env) with(kv ...string) env {
	out := env{"REDIS_PASSWORD": canaryPassword, "CONSUL_HTTP_TOKEN": canaryToken}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

type testKey struct {
	hashEncoded string // PKCS#1 PEM with '#' for newlines
	md5, sha256 string
}

var (
	keysOnce sync.Once
	keys     [2]testKey
)

// rsaKeys returns two RSA keys generated once per test binary.
func rsaKeys(t *testing.T) [2]testKey {
	t.Helper()
	keysOnce.Do(func() {
		for i := range keys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			p := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
			pub, err := ssh.NewPublicKey(&k.PublicKey)
			if err != nil {
				panic(err)
			}
			keys[i] = testKey{strings.ReplaceAll(string(p), "\n", "#"), ssh.FingerprintLegacyMD5(pub), ssh.FingerprintSHA256(pub)}
		}
	})
	return keys
}

func manta(k testKey, keyID string) env {
	return env{"MANTA_USER": "alice", "MANTA_KEY_ID": keyID, "MANTA_PRIVATE_KEY": k.hashEncoded}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(nil, env{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"RedisPort", c.RedisPort, 6379}, {"SentinelPort", c.SentinelPort, 26379},
		{"BindAddr", c.BindAddr, "0.0.0.0"}, {"RedisDataDir", c.RedisDataDir, "/data"},
		{"PollInterval", c.PollInterval, 5 * time.Second}, {"CheckTTL", c.CheckTTL, 25 * time.Second},
		{"BackupTTL", c.BackupTTL, 24 * time.Hour}, {"MasterWaitTimeout", c.MasterWaitTimeout, 60 * time.Second},
		{"BackupKeep", c.BackupKeep, 7}, {"BackupCompression", c.BackupCompression, CompressionZstd},
		{"BackupStallTimeout", c.BackupStallTimeout, 2 * time.Minute},
		{"HTTPAddr", c.HTTPAddr, ":8008"}, {"LogLevel", c.LogLevel, "INFO"}, {"LogJSON", c.LogJSON, false},
		{"ConsulAddress", c.Consul.Address, "127.0.0.1:8500"}, {"ConsulScheme", c.Consul.Scheme, "http"},
		{"ConsulLeaderTimeout", c.ConsulLeaderTimeout, 2 * time.Minute}, {"MantaEnabled", c.MantaEnabled(), false},
		{"RestartLimit", c.RestartLimit, 5}, {"RestartBackoffMax", c.RestartBackoffMax, 30 * time.Second},
		{"PITR", c.PITR, true}, {"PITRInterval", c.PITRInterval, time.Second},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v; want %v", ch.name, ch.got, ch.want)
		}
	}
	if c.Consul.HttpClient == nil || c.Consul.Transport == nil {
		t.Error("Consul config has no HTTP client/transport of its own")
	}
}

func TestLoadGood(t *testing.T) {
	k := rsaKeys(t)[0]
	type goodCase struct {
		name  string
		env   env
		args  []string
		check func(t *testing.T, c *Config)
	}
	tests := []goodCase{
		{"shell version values", env{"LOG_LEVEL": "debug", "MASTER_WAIT_TIMEOUT": "60", "BACKUP_TTL": "3600", "CONSUL": "consul, 10.0.0.2,"}, nil,
			func(t *testing.T, c *Config) {
				want := c.LogLevel == "DEBUG" && c.MasterWaitTimeout == time.Minute && c.BackupTTL == time.Hour &&
					len(c.ConsulJoin) == 2 && c.ConsulJoin[1] == "10.0.0.2"
				if !want {
					t.Errorf("got level %s wait %s ttl %s join %q", c.LogLevel, c.MasterWaitTimeout, c.BackupTTL, c.ConsulJoin)
				}
			}},
		{"s3", env{"S3_URL": "s3://my.backups/redis/prod/", "S3_ENDPOINT": "http://minio:9000/", "S3_SSE": "aws:kms", "S3_SSE_KMS_KEY_ID": "k1"}, nil,
			func(t *testing.T, c *Config) {
				wantEq(t, "Bucket", c.S3.Bucket, "my.backups")
				wantEq(t, "Prefix", c.S3.Prefix, "redis/prod/")
				wantEq(t, "Endpoint", c.S3.Endpoint, "http://minio:9000")
				wantEq(t, "UsePathStyle", c.S3.UsePathStyle(), true)
				wantEq(t, "SSE", c.S3.SSE, "aws:kms")
			}},
		{"s3 on aws", env{"S3_URL": "s3://backups", "S3_FORCE_PATH_STYLE": "true"}, nil,
			func(t *testing.T, c *Config) {
				wantEq(t, "Prefix", c.S3.Prefix, "")
				wantEq(t, "UsePathStyle", c.S3.UsePathStyle(), true)
				wantEq(t, "String", strings.Contains(c.String(), "backups=s3://backups"), true)
			}},
		{"pitr off", env{"BACKUP_DIR": "/backups", "PITR": "false", "PITR_INTERVAL": "250ms"}, nil,
			func(t *testing.T, c *Config) {
				wantEq(t, "PITR", c.PITR, false)
				wantEq(t, "PITRInterval", c.PITRInterval, 250*time.Millisecond)
			}},
		{"empty value means default", env{"REDIS_PORT": ""}, nil,
			func(t *testing.T, c *Config) { wantEq(t, "RedisPort", c.RedisPort, 6379) }},
		{"flags override env", env{"REDIS_PORT": "7000", "LOG_FORMAT": "json"}, []string{"--redis-port", "7001", "--restore-allow-empty", "-http-addr=off"},
			func(t *testing.T, c *Config) {
				wantEq(t, "RedisPort", c.RedisPort, 7001)
				wantEq(t, "RestoreAllowEmpty", c.RestoreAllowEmpty, true)
				wantEq(t, "HTTPAddr", c.HTTPAddr, "")
				wantEq(t, "LogJSON", c.LogJSON, true)
			}},
		{"bools and durations", env{"RESTORE_ALLOW_EMPTY": "YES", "SENTINEL_DOWN_AFTER": "500ms", "ADVERTISE_ADDR": "::ffff:10.1.2.3"}, nil,
			func(t *testing.T, c *Config) {
				wantEq(t, "RestoreAllowEmpty", c.RestoreAllowEmpty, true)
				wantEq(t, "SentinelDownAfter", c.SentinelDownAfter, 500*time.Millisecond)
				wantEq(t, "AdvertiseAddr", c.AdvertiseAddr, "10.1.2.3")
			}},
		{"sentinel limits are allowed", env{"SENTINEL_DOWN_AFTER": "2147483647ms", "SENTINEL_FAILOVER_TIMEOUT": "2147483", "SENTINEL_QUORUM": "2147483647"}, nil,
			func(t *testing.T, c *Config) {
				wantEq(t, "SentinelDownAfter", c.SentinelDownAfter, 2147483647*time.Millisecond)
				wantEq(t, "SentinelFailoverTimeout", c.SentinelFailoverTimeout, 2147483*time.Second)
				wantEq(t, "SentinelQuorum", c.SentinelQuorum, 2147483647)
			}},
		{"consul client", env{"CONSUL_HTTP_ADDR": "https://consul.example:8501", "CONSUL_HTTP_SSL": "true", "CONSUL_HTTP_SSL_VERIFY": "false", "CONSUL_TLS_SERVER_NAME": "server.dc1.consul"}, nil,
			func(t *testing.T, c *Config) {
				wantEq(t, "Scheme", c.Consul.Scheme, "https")
				wantEq(t, "Token", c.Consul.Token, canaryToken)
				wantEq(t, "InsecureSkipVerify", c.Consul.TLSConfig.InsecureSkipVerify, true)
				wantEq(t, "TLS server name", c.Consul.TLSConfig.Address, "server.dc1.consul")
				if _, err := api.NewClient(c.Consul); err != nil {
					t.Errorf("api.NewClient: %v", err)
				}
			}},
		{"manta, MD5 key id with prefix", manta(k, "MD5:"+strings.ToUpper(k.md5)), nil,
			func(t *testing.T, c *Config) {
				wantEq(t, "MantaKeyID", c.MantaKeyID, k.md5)
				wantEq(t, "MantaKeyMD5", c.MantaKeyMD5, k.md5)
				wantEq(t, "MantaBucket", c.MantaBucket, "/alice/stor/triton-redis")
				if _, ok := c.MantaKey.(*rsa.PrivateKey); !ok {
					t.Errorf("MantaKey is a %T; want *rsa.PrivateKey", c.MantaKey)
				}
			}},
		{"manta, SHA256 key id and bucket", manta(k, k.sha256).with("MANTA_BUCKET", "/alice/stor/redis/"), nil,
			func(t *testing.T, c *Config) {
				wantEq(t, "MantaEnabled", c.MantaEnabled(), true)
				wantEq(t, "MantaBucket", c.MantaBucket, "/alice/stor/redis")
			}},
	}
	tokenFile := tempFile(t, "file-token\n")
	ecKey, ecSHA := ecdsaKey(t)
	tests = append(tests, goodCase{"consul token file", env{"CONSUL_HTTP_TOKEN": "", "CONSUL_HTTP_TOKEN_FILE": tokenFile}, nil,
		func(t *testing.T, c *Config) {
			wantEq(t, "Token", c.Consul.Token, "file-token")
			if _, err := api.NewClient(c.Consul); err != nil {
				t.Fatalf("api.NewClient: %v", err)
			}
			wantEq(t, "Token after NewClient", c.Consul.Token, "file-token")
		}}, goodCase{"manta, ECDSA key", env{"MANTA_USER": "bob", "MANTA_KEY_ID": ecSHA, "MANTA_PRIVATE_KEY": ecKey}, nil,
		func(t *testing.T, c *Config) {
			if _, ok := c.MantaKey.(*ecdsa.PrivateKey); !ok {
				t.Errorf("MantaKey is a %T; want *ecdsa.PrivateKey", c.MantaKey)
			}
		}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.args, tt.env.with().lookup)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func wantEq[T comparable](t *testing.T, name string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v; want %v", name, got, want)
	}
}

func TestLoadHelp(t *testing.T) {
	if _, err := Load([]string{"--help"}, env{}.lookup); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load(--help) = %v; want flag.ErrHelp", err)
	}
}

// TestTableIsTheOnlySource asserts that Load reads exactly the variables
// Usage documents, and that each non-secret one has its flag documented.
func TestTableIsTheOnlySource(t *testing.T) {
	read := map[string]bool{}
	if _, err := Load(nil, func(k string) (string, bool) { read[k] = true; return "", false }); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	Usage(&buf)
	help := buf.String()
	for k := range read {
		if !strings.Contains(help, "  "+k+" ") && !strings.Contains(help, "  "+k+",") {
			t.Errorf("%s is read but not documented", k)
		}
	}
	for _, s := range settings {
		if !read[s.Env] {
			t.Errorf("%s is documented but not read", s.Env)
		}
		if !s.Secret && !strings.Contains(help, s.Env+", --"+s.Flag()+" ") {
			t.Errorf("help lacks the flag of %s", s.Env)
		}
	}
	for _, g := range groups {
		if !strings.Contains(help, "\n"+g+"\n") {
			t.Errorf("help lacks group %s", g)
		}
	}
}

func TestLoadSecretsHaveNoFlags(t *testing.T) {
	for _, f := range []string{"--redis-password=x", "--manta-private-key=x", "--consul-http-token=x"} {
		if _, err := Load([]string{f}, env{}.lookup); err == nil {
			t.Errorf("Load(%s) accepted a secret on the command line", f)
		}
	}
}

func TestStringHidesSecrets(t *testing.T) {
	k := rsaKeys(t)[0]
	e := manta(k, k.md5).with("CONSUL_LOCAL_CONFIG", `{"acl":{"tokens":{"agent":"agent-s3cr3t"}}}`)
	c, err := Load(nil, e.lookup)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c)} {
		for _, secret := range []string{canaryPassword, canaryToken, "agent-s3cr3t", "BEGIN"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q reveals %q", s, secret)
			}
		}
		if !strings.Contains(s, "manta:https://us-east.manta.joyent.com/alice/stor/triton-redis") {
			t.Errorf("%q lacks the backup store", s)
		}
	}
}
