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
	const password = "cmd-Secret-pw"
	consul := harness.StartConsul(t)
	r := harness.StartRedis(t, harness.RedisOptions{Password: password})
	ctx := t.Context()
	if err := r.Client.HSet(ctx, "h", "a", "1", "b", "2").Err(); err != nil {
		t.Fatal(err)
	}
	e := env{"REDIS_PORT": strconv.Itoa(r.Port), "REDIS_DATA_DIR": r.Dir, "REDIS_PASSWORD": password,
		"BACKUP_DIR": t.TempDir(), "CONSUL_HTTP_ADDR": consul.HTTPAddr, "BACKUP_COMPRESSION": "zstd"}
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
	var list []listEntry
	if err := json.Unmarshal([]byte(step(exitOK, name, "backup", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !list[0].LastBackup || list[0].Status != "good" || list[0].SHA256 == "" {
		t.Fatalf("list --json: %+v", list)
	}
	step(exitFailure, "--force", "backup", "delete", name)
	step(exitFailure, "stop the node", "backup", "restore", name)

	e["REDIS_PORT"] = strconv.Itoa(harness.FreePort(t))
	step(exitFailure, "already holds data", "backup", "restore", name)
	e["REDIS_DATA_DIR"] = harness.TempDir(t, "cmdrst")
	step(exitOK, "restored "+name, "backup", "restore", name)
	if _, err := os.Stat(filepath.Join(e["REDIS_DATA_DIR"], "appendonlydir")); err != nil {
		t.Fatalf("no AOF after restore: %v", err)
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
