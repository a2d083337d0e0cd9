package cluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// TestChildrenRunUnprivileged: a node started as root with the password
// in REDIS_PASSWORD_FILE runs redis-server and redis-sentinel as the
// redis user; that user cannot read the supervisor's environment nor the
// password file; no child's environment holds the password; the data
// directory left 0777 is tightened to 0700 and, with the config files
// (0600), given to redis.
func TestChildrenRunUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: PID 1 drops the children's privileges")
	}
	ru, err := user.Lookup("redis")
	if err != nil {
		t.Skip("no user redis (apt-get install redis-server creates it)")
	}
	uid, _ := strconv.Atoi(ru.Uid)
	gid, _ := strconv.Atoi(ru.Gid)
	const secret = "file-pa55word-for-children"
	c := nodes.New(t)
	n := c.AddNode()
	pwFile := filepath.Join(n.Dir, "redis-password")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(n.Dir, "data")
	if err := os.Mkdir(data, 0o777); err != nil { // as an old volume might be
		t.Fatal(err)
	}
	os.Chmod(data, 0o777) // past the umask
	// The redis user must be able to enter the node's directory to reach
	// data/ and etc/ (harness.TempDir makes it 0700).
	if err := os.Chmod(n.Dir, 0o711); err != nil {
		t.Fatal(err)
	}
	n.Env = append(n.Env, "REDIS_PASSWORD_FILE="+pwFile)
	n.Start()
	c.WaitTopology(30*time.Second, n.Addr(), 0, 1)

	children := nodes.ChildrenOf(n.Proc.Pid())
	if len(children) < 2 {
		t.Fatalf("the node has %d children, want redis-server and redis-sentinel", len(children))
	}
	for _, pid := range children {
		if got := statusIDs(t, pid, "Uid:"); got != [4]int{uid, uid, uid, uid} {
			t.Errorf("child %d runs as uids %v, want all %d (redis)", pid, got, uid)
		}
		if got := statusIDs(t, pid, "Gid:"); got != [4]int{gid, gid, gid, gid} {
			t.Errorf("child %d runs as gids %v, want all %d (redis)", pid, got, gid)
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(env, []byte(secret)) || bytes.Contains(env, []byte("REDIS_PASSWORD")) {
			t.Errorf("child %d's environment holds the password or its file", pid)
		}
	}
	for _, f := range []string{fmt.Sprintf("/proc/%d/environ", n.Proc.Pid()), pwFile} {
		cat := exec.Command("cat", f)
		cat.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		if out, err := cat.CombinedOutput(); err == nil {
			t.Errorf("the redis user read %s (%d bytes)", f, len(out))
		}
	}
	wantOwned(t, data, uid, 0o700)
	wantOwned(t, filepath.Join(n.Dir, "etc"), uid, 0o700)
	wantOwned(t, filepath.Join(n.Dir, "etc", "redis.conf"), uid, 0o600)
	wantOwned(t, filepath.Join(n.Dir, "etc", "sentinel.conf"), uid, 0o600)
	if strings.Contains(n.Log(), secret) {
		t.Error("the node's log holds the password")
	}
}

// statusIDs reads the real, effective, saved and filesystem ids of a
// /proc/<pid>/status line ("Uid:" or "Gid:").
func statusIDs(t *testing.T, pid int, key string) [4]int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var ids [4]int
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 5 && f[0] == key {
			for i := range ids {
				ids[i], _ = strconv.Atoi(f[i+1])
			}
		}
	}
	return ids
}

func wantOwned(t *testing.T, path string, uid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid || fi.Mode().Perm() != mode {
		t.Errorf("%s: owner uid %d mode %v, want uid %d mode %v", path, st.Uid, fi.Mode().Perm(), uid, mode)
	}
}

// TestInsecureDefaultsWarn: no password and BIND_ADDR=0.0.0.0 (the
// configs always say protected-mode no) is a WARN at start naming the
// fix; with a password there is none. The node then fails to reach a
// Consul that is not there, which is all this test needs of it.
func TestInsecureDefaultsWarn(t *testing.T) {
	const warning = "redis and sentinel accept anyone who can reach this host"
	for _, tc := range []struct {
		env  []string
		want bool
	}{
		{[]string{"BIND_ADDR=0.0.0.0"}, true},
		{[]string{"BIND_ADDR=::"}, true},
		{[]string{"BIND_ADDR=0.0.0.0", "REDIS_PASSWORD=x-Pa55word"}, false},
		{[]string{"BIND_ADDR=127.0.0.1"}, false},
	} {
		dir := harness.TempDir(t, "insecure-")
		cmd := exec.Command(nodes.Binary(t), "run")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "CONSUL_HTTP_ADDR=127.0.0.1:1", "CONSUL_LEADER_TIMEOUT=1s",
			"HTTP_ADDR=off", "REDIS_DATA_DIR=" + filepath.Join(dir, "data"), "REDIS_CONFIG_DIR=" + filepath.Join(dir, "etc")}, tc.env...)
		out, _ := cmd.CombinedOutput()
		got := strings.Contains(string(out), "[WARN]  "+warning) && strings.Contains(string(out), "REDIS_PASSWORD_FILE")
		if got != tc.want {
			t.Errorf("%v: warned %t, want %t:\n%s", tc.env, got, tc.want, out)
		}
	}
}
