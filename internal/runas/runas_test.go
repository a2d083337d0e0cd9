package runas

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCanReachAndPrepareDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give directories away")
	}
	u, err := Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	base, err := os.MkdirTemp("", "runas-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	parent := filepath.Join(base, "parent")
	if err := os.Mkdir(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(parent, "data")
	if err := u.CanReach(data); err == nil || !strings.Contains(err.Error(), parent) {
		t.Errorf("CanReach through a 0700 root directory: %v, want an error naming %s", err, parent)
	}
	if err := os.Chmod(parent, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := u.CanReach(data); err != nil {
		t.Errorf("CanReach through a 0711 directory: %v", err)
	}
	if err := os.Mkdir(data, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(data, 0o777)
	file := filepath.Join(data, "dump.rdb")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(data, "link")); err != nil {
		t.Fatal(err)
	}
	if err := PrepareDir(data, 0o700, u); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{data, file} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != u.UID {
			t.Errorf("%s owned by uid %d, want %d", p, st.Uid, u.UID)
		}
	}
	if fi, _ := os.Stat(data); fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want tightened to 0700", fi.Mode().Perm())
	}
	if fi, _ := os.Stat("/etc/passwd"); fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatal("PrepareDir followed a symlink out of the directory")
	}
	if u.Credential().Uid != uint32(u.UID) || (*User)(nil).Credential() != nil {
		t.Error("Credential does not carry the user")
	}
}
