package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// The operator commands against a real redis, Consul and redis-check-rdb:
// now, list (table and JSON), delete's refusal, restore's refusals and a
// restore into an empty data directory, delete --force.
func TestBackupCommands(t *testing.T) {
	t.Run("dir", func(t *testing.T) { testBackupCommands(t, env{"BACKUP_DIR": t.TempDir()}) })
	t.Run("s3", func(t *testing.T) { testBackupCommands(t, s3Env(harness.StartS3(t, "cmd"), "cmd")) })
}

// s3Env selects the S3 store on srv's bucket.
func s3Env(srv *harness.S3, bucket string) env {
	return env{"S3_URL": "s3://" + bucket + "/redis", "S3_ENDPOINT": srv.Endpoint, "S3_REGION": srv.Region,
		"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}
}

func testBackupCommands(t *testing.T, storeEnv env) {
	const password = "cmd-Secret-pw"
	consul := harness.StartConsul(t)
	r := harness.StartRedis(t, harness.RedisOptions{Password: password})
	ctx := t.Context()
	if err := r.Client.HSet(ctx, "h", "a", "1", "b", "2").Err(); err != nil {
		t.Fatal(err)
	}
	e := env{"REDIS_FLAVOR": harness.Flavor(), "REDIS_PORT": strconv.Itoa(r.Port), "REDIS_DATA_DIR": r.Dir, "REDIS_PASSWORD": password,
		"CONSUL_HTTP_ADDR": consul.HTTPAddr, "BACKUP_COMPRESSION": "zstd"}
	for k, v := range storeEnv {
		e[k] = v
	}
	step := func(wantCode int, wantOut string, args ...string) string {
		t.Helper()
		code, out, errOut := runCmd(t, e, args...)
		if strings.Contains(out+errOut, password) {
			t.Errorf("%v: the password reached the output", args)
		}
		if code != wantCode || !strings.Contains(out+errOut, wantOut) {
			t.Fatalf("%v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", args, code, wantCode, wantOut, out, errOut)
		}
		return out
	}
	out := step(exitOK, ".rdb.zst", "backup", "now")
	name := strings.Fields(out)[0]
	step(exitOK, name, "backup", "list")
	var listed listOutput
	if err := json.Unmarshal([]byte(step(exitOK, name, "backup", "list", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	list := listed.Backups
	if len(list) != 1 || !list[0].LastBackup || list[0].Status != "good" || list[0].SHA256 == "" {
		t.Fatalf("list --json: %+v", list)
	}
	step(exitFailure, "--force", "backup", "delete", name)
	step(exitFailure, "stop the node", "backup", "restore", name)

	e["REDIS_PORT"] = strconv.Itoa(harness.FreePort(t))
	step(exitFailure, "already holds data", "backup", "restore", name)
	e["REDIS_DATA_DIR"] = harness.TempDir(t, "cmdrst")
	// The restore's private redis-server runs with the user's directives.
	e["REDIS_CONFIG_EXTRA"] = "aof-use-rdb-preamble no"
	step(exitOK, "restored "+name, "backup", "restore", name)
	if m, err := os.ReadFile(filepath.Join(e["REDIS_DATA_DIR"], "appendonlydir", "appendonly.aof.manifest")); err != nil ||
		!strings.Contains(string(m), ".base.aof ") {
		t.Fatalf("restored AOF (%v): manifest %q, want an .aof base (REDIS_CONFIG_EXTRA's aof-use-rdb-preamble no)", err, m)
	}
	restored := harness.StartRedis(t, harness.RedisOptions{Dir: e["REDIS_DATA_DIR"], Password: password,
		Extra: []string{"appendonly yes"}})
	if got := restored.Client.HGetAll(ctx, "h").Val(); got["a"] != "1" || got["b"] != "2" {
		t.Fatalf("restored hash %v", got)
	}
	step(exitOK, "deleted "+name, "backup", "delete", "--force", name)
	if kv, _, _ := consul.Client.KV().Get("service/redis/last-backup", nil); kv != nil {
		t.Fatalf("last-backup still %q after deleting it", kv.Value)
	}
	step(exitFailure, "not found", "backup", "delete", name)
}

// The S3 store's errors at the command line: a missing bucket and a wrong
// secret fail with the bucket or the key id named (never the secret), and
// two stores at once is exit 2 naming both.
func TestBackupCommandsS3Errors(t *testing.T) {
	srv := harness.StartS3(t, "cmd")
	for _, tc := range []struct {
		name     string
		edit     env
		code     int
		want     string
		notWants []string
	}{
		{"missing bucket", env{"S3_URL": "s3://no-such-bucket/redis"}, exitFailure, "no-such-bucket", nil},
		{"wrong secret", env{"AWS_SECRET_ACCESS_KEY": "wrong-" + srv.SecretKey}, exitFailure, srv.AccessKey, []string{srv.SecretKey}},
		{"two stores", env{"BACKUP_DIR": t.TempDir()}, exitUsage, "S3_URL", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := s3Env(srv, "cmd")
			for k, v := range tc.edit {
				e[k] = v
			}
			code, out, errOut := runCmd(t, e, "backup", "list")
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tc.code, tc.want, out, errOut)
			}
			for _, nw := range tc.notWants {
				if strings.Contains(out+errOut, nw) {
					t.Errorf("the output shows a secret: %s", out+errOut)
				}
			}
			t.Log(strings.TrimSpace(errOut))
		})
	}
}
