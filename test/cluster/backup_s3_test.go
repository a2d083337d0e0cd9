package cluster

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestBackupRoundTripThroughTheBinaryS3 is the round trip with the S3
// store on a real S3 server (versitygw), the secret given as a file: the
// new node restores from S3 alone. The secret never reaches a log, and no
// child (redis-server, redis-sentinel) has an AWS_* variable.
func TestBackupRoundTripThroughTheBinaryS3(t *testing.T) {
	srv := harness.StartS3(t, "redis-backups")
	secretFile := filepath.Join(harness.TempDir(t, "secret-"), "aws-secret")
	if err := os.WriteFile(secretFile, []byte(srv.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"S3_URL=s3://redis-backups/prod/cluster-1", "S3_ENDPOINT=" + srv.Endpoint, "S3_REGION=" + srv.Region,
		"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY_FILE=" + secretFile}
	a, b := backupRoundTrip(t, env)
	files, _ := filepath.Glob(filepath.Join(srv.Root, "redis-backups", "prod", "cluster-1", "dump-*"))
	if len(files) != 2 { // the dump and its sidecar
		t.Errorf("the bucket holds %v, want one backup and its sidecar", files)
	}
	for _, n := range []interface{ Log() string }{a, b} {
		if strings.Contains(n.Log(), srv.SecretKey) {
			t.Error("the secret access key reached a node's log")
		}
	}
	for _, pid := range children(t, b.Proc.Pid()) {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			continue // exited meanwhile
		}
		if strings.Contains(string(env), "AWS_") || strings.Contains(string(env), srv.SecretKey) {
			t.Errorf("child %d has AWS_* in its environment", pid)
		}
	}
}

// children returns the pids whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces: cut at the last ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			c, _ := strconv.Atoi(filepath.Base(filepath.Dir(s)))
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("process %d has no children", pid)
	}
	return out
}
