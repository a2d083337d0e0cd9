package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// `backup list` marks an encrypted backup, and `backup decrypt NAME`
// writes the RDB it holds (the snapshot's very bytes) with the key, and
// only with the key; it refuses a terminal. No node, no Consul.
func TestBackupDecrypt(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	if err := r.Client.Set(t.Context(), "k", "decrypt-me", 0).Err(); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := crypt.ParseKeys(id.String())
	if err != nil {
		t.Fatal(err)
	}
	backups := t.TempDir()
	st, err := dir.New(dir.Options{Dir: backups})
	if err != nil {
		t.Fatal(err)
	}
	rc := redisnode.Dial(r.Addr, "")
	defer rc.Close()
	info, err := backup.Backup(t.Context(), backup.Options{Redis: rc, DataDir: r.Dir, Store: st,
		Compression: "zstd", Encryption: keys})
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := os.ReadFile(filepath.Join(r.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	e := env{"BACKUP_DIR": backups, "BACKUP_ENCRYPTION_KEY": id.String(),
		"CONSUL_HTTP_ADDR": "127.0.0.1:" + strconv.Itoa(harness.FreePort(t))}

	code, out, errOut := runCmd(t, e, "backup", "list")
	if code != exitOK || !strings.Contains(out, "ENCRYPTION") || !strings.Contains(out, info.Name) ||
		!strings.Contains(out, " age ") {
		t.Fatalf("backup list: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, e, "backup", "decrypt", info.Name)
	if code != exitOK || !bytes.Equal([]byte(out), rdb) {
		t.Fatalf("backup decrypt: exit %d, %d bytes (the snapshot has %d)\n%s", code, len(out), len(rdb), errOut)
	}
	for name, k := range map[string]string{"wrong key": "a long passphrase that is wrong", "no key": ""} {
		e2 := env{"BACKUP_DIR": backups, "BACKUP_ENCRYPTION_KEY": k}
		code, out, errOut = runCmd(t, e2, "backup", "decrypt", info.Name)
		if code != exitFailure || out != "" || !strings.Contains(errOut, info.Name) ||
			!strings.Contains(errOut, id.Recipient().String()) {
			t.Errorf("%s: exit %d, %d bytes written\n%s", name, code, len(out), errOut)
		}
	}

	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to check the refusal with: %v", err)
	}
	defer pty.Close()
	var stderr bytes.Buffer
	if code := run([]string{"backup", "decrypt", info.Name}, e.lookup, pty, &stderr); code != exitFailure ||
		!strings.Contains(stderr.String(), "terminal") {
		t.Fatalf("decrypt to a terminal: exit %d: %s", code, stderr.String())
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	stderr.Reset()
	if code := run([]string{"backup", "decrypt", info.Name}, e.lookup, null, &stderr); code != exitOK {
		t.Fatalf("decrypt to /dev/null: exit %d: %s", code, stderr.String())
	}
}
