package sentinel

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/etc"
)

func TestRepairAuthPass(t *testing.T) {
	const pw = "pa ss\"word\nline two"
	tests := []struct{ name, in, want string }{
		{"as Sentinel 7.0 rewrites it",
			"port 1\nsentinel auth-pass mymaster " + pw + "\nsentinel myid x\n",
			"port 1\nsentinel auth-pass mymaster " + etc.Quote(pw) + "\nsentinel myid x\n"},
		{"at the end without newline", "sentinel auth-pass mymaster " + pw, "sentinel auth-pass mymaster " + etc.Quote(pw)},
		{"already quoted", "sentinel auth-pass mymaster " + etc.Quote(pw) + "\n", "sentinel auth-pass mymaster " + etc.Quote(pw) + "\n"},
		{"other master kept", "sentinel auth-pass other " + pw + "\n", "sentinel auth-pass other " + pw + "\n"},
		{"not a whole line", "# sentinel auth-pass mymaster " + pw + "x\n", "# sentinel auth-pass mymaster " + pw + "x\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(repairAuthPass([]byte(tc.in), "mymaster", pw)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRepairConfRewritesOnlyWhenNeeded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sentinel.conf")
	if err := os.WriteFile(p, []byte("sentinel auth-pass mymaster a b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := RepairConf(p, "mymaster", "a b"); err != nil || !changed {
		t.Fatalf("RepairConf = %t, %v; want a change", changed, err)
	}
	b, _ := os.ReadFile(p)
	if args, err := etc.SplitArgs(string(b)); err != nil || len(args) != 4 || args[3] != "a b" {
		t.Errorf("repaired line %q reads back as %q (%v)", b, args, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if changed, err := RepairConf(p, "mymaster", "a b"); err != nil || changed {
		t.Errorf("second RepairConf = %t, %v; want no change", changed, err)
	}
}
