package proc

import (
	"os"
	"os/exec"
	"testing"
)

func TestReadAndChildren(t *testing.T) {
	self, err := Read(os.Getpid())
	if err != nil || self.Pid != os.Getpid() || self.PPid != os.Getppid() || self.Zombie() {
		t.Fatalf("Read(self) = %+v, %v", self, err)
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	found := false
	for _, p := range Children(os.Getpid()) {
		if p == cmd.Process.Pid {
			found = true
		}
	}
	if !found {
		t.Fatalf("Children(self) lacks the sleep %d", cmd.Process.Pid)
	}
	if st, err := Read(cmd.Process.Pid); err != nil || st.Comm != "sleep" {
		t.Fatalf("Read(sleep) = %+v, %v", st, err)
	}
	if _, err := Read(1 << 30); err == nil {
		t.Fatal("Read of a pid that cannot exist succeeded")
	}
}
