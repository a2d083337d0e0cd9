package e2e

import (
	"bufio"
	"bytes"
	"crypto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// Stand-ins for the docker and triton CLIs: Triton cannot be reached from
// here. They print what the real CLIs print for the fields setup.sh reads.
const (
	stubDocker = `#!/bin/sh
[ "$1" = info ] && printf 'Containers: 0\n SDCAccount: %s\n' "$STUB_DOCKER_USER"
exit 0
`
	stubTriton = `#!/bin/sh
case "$1 $2" in
"profile get") printf 'name: env\nurl: https://us-east-1.api.joyent.com\naccount: alice\nkeyId: 00:11\n' ;;
"account get") printf 'id: 9bd1b6b2-0000-4000-8000-000000000001\nlogin: alice\nemail: a@example.com\ntriton_cns_enabled: %s\n' "$STUB_CNS" ;;
*) exit 2 ;;
esac
`
	wantConsul = "redis-consul.svc.9bd1b6b2-0000-4000-8000-000000000001.us-east-1.cns.joyent.com"
)

// TestTritonSetup runs examples/triton/setup.sh against stand-in docker and
// triton CLIs and real ssh-keygen keys, and checks that the _env it writes
// is accepted by redis-autopilot's config (MANTA_KEY_ID matches the '#'-
// encoded MANTA_PRIVATE_KEY) and that the key never reaches its output.
func TestTritonSetup(t *testing.T) {
	keygen := harness.NeedBinary(t, "ssh-keygen")
	type env = map[string]string
	ok := env{"STUB_DOCKER_USER": "alice", "DOCKER_HOST": "tcp://us-east-1.docker.joyent.com:2376", "STUB_CNS": "true"}
	tests := []struct {
		name    string
		keygen  []string // ssh-keygen arguments for the key
		pass    string   // its passphrase
		env     env      // overrides of ok
		haveEnv bool     // an _env exists already
		wantErr string   // "" means success
	}{
		{"rsa pem key", []string{"-t", "rsa", "-b", "2048", "-m", "PEM"}, "", nil, false, ""},
		{"ecdsa openssh key", []string{"-t", "ecdsa"}, "", nil, false, ""},
		{"docker points at another dc", []string{"-t", "rsa", "-b", "2048"}, "", env{"DOCKER_HOST": "tcp://eu-ams-1.docker.joyent.com:2376"}, false, "does not match the Docker CLI"},
		{"docker is another account", []string{"-t", "rsa", "-b", "2048"}, "", env{"STUB_DOCKER_USER": "bob"}, false, "does not match the Docker CLI"},
		{"cns disabled", []string{"-t", "rsa", "-b", "2048"}, "", env{"STUB_CNS": "false"}, false, "CNS is required"},
		{"passphrase", []string{"-t", "rsa", "-b", "2048"}, "secret", nil, false, "not an unencrypted"},
		{"ed25519", []string{"-t", "ed25519"}, "", nil, false, "not an RSA or ECDSA"},
		{"existing _env", []string{"-t", "rsa", "-b", "2048"}, "", nil, true, "not overwriting"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			script := installSetup(t, dir)
			key := filepath.Join(dir, "id_test")
			args := append(append([]string{"-q", "-f", key, "-C", "e2e"}, tc.keygen...), "-N", tc.pass)
			if out, err := exec.Command(keygen, args...).CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen: %v %s", err, out)
			}
			envFile := filepath.Join(filepath.Dir(script), "_env")
			if tc.haveEnv {
				if err := os.WriteFile(envFile, []byte("KEEP=me\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("bash", script, key)
			cmd.Env = stubEnv(t, dir, ok, tc.env)
			out, err := cmd.CombinedOutput()
			assertKeyNotIn(t, key, out)
			if tc.wantErr != "" {
				if err == nil || !bytes.Contains(out, []byte(tc.wantErr)) {
					t.Fatalf("setup.sh: err %v, output %q; want failure saying %q", err, out, tc.wantErr)
				}
				if b, _ := os.ReadFile(envFile); tc.haveEnv != (b != nil) || (tc.haveEnv && string(b) != "KEEP=me\n") {
					t.Errorf("_env after a failed setup.sh: %q", b)
				}
				return
			}
			if err != nil {
				t.Fatalf("setup.sh: %v\n%s", err, out)
			}
			checkEnvFile(t, envFile, key)
		})
	}
}

// installSetup copies setup.sh into dir/triton, so its _env lands there.
func installSetup(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "examples", "triton", "setup.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "triton", "setup.sh")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, src, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// stubEnv returns an environment whose PATH finds the stand-in CLIs first.
func stubEnv(t *testing.T, dir string, base, over map[string]string) []string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"docker": stubDocker, "triton": stubTriton} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + dir}
	for k, v := range base {
		if o, ok := over[k]; ok {
			v = o
		}
		env = append(env, k+"="+v)
	}
	return env
}

// assertKeyNotIn fails when any line of the key's base64 body is in out.
func assertKeyNotIn(t *testing.T, keyPath string, out []byte) {
	t.Helper()
	b, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") && bytes.Contains(out, []byte(line)) {
			t.Fatalf("setup.sh printed the private key")
		}
	}
}

// checkEnvFile checks _env's mode and values, and loads it with
// redis-autopilot's own config.
func checkEnvFile(t *testing.T, path, keyPath string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("_env mode %o, want 600", mode)
	}
	vals := readEnvFile(t, path)
	keyPEM, _ := os.ReadFile(keyPath)
	if got := strings.ReplaceAll(vals["MANTA_PRIVATE_KEY"], "#", "\n"); got != string(keyPEM) {
		t.Errorf("MANTA_PRIVATE_KEY with '#' as newline is not the key file")
	}
	if vals["CONSUL"] != wantConsul || vals["MANTA_USER"] != "alice" {
		t.Errorf("CONSUL=%s MANTA_USER=%s; want %s, alice", vals["CONSUL"], vals["MANTA_USER"], wantConsul)
	}
	raw, err := ssh.ParseRawPrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(raw.(crypto.Signer).Public())
	if err != nil {
		t.Fatal(err)
	}
	if want := ssh.FingerprintLegacyMD5(pub); vals["MANTA_KEY_ID"] != want {
		t.Errorf("MANTA_KEY_ID=%s, want the MD5 fingerprint %s", vals["MANTA_KEY_ID"], want)
	}
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	if err != nil {
		t.Fatalf("redis-autopilot rejects the _env setup.sh wrote: %v", err)
	}
	if !cfg.MantaEnabled() || len(cfg.ConsulJoin) != 1 || cfg.ConsulJoin[0] != wantConsul {
		t.Errorf("config from _env: manta %v, consul %v", cfg.MantaEnabled(), cfg.ConsulJoin)
	}
}

// readEnvFile parses VAR=value lines as docker compose's env_file does for
// these simple values (no quotes, '#' lines are comments).
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		vals[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vals
}
