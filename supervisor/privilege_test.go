package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestOptionsEnvIsTheDefault: a child without its own Env gets
// Options.Env, not the supervisor's environment (which holds secrets).
func TestOptionsEnvIsTheDefault(t *testing.T) {
	t.Setenv("SUPERVISOR_TEST_SECRET", "leaked")
	buf := &logBuffer{}
	s, err := New(Options{Log: hclog.New(&hclog.LoggerOptions{Output: buf}), Env: []string{"ONLY=this"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-s.Done() }()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(ctx, Command{Name: "env", Path: "/usr/bin/env", CaptureLimit: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res.Output)); got != "ONLY=this" {
		t.Errorf("child environment %q, want only ONLY=this", got)
	}
}

// TestCredentialDropsPrivileges: as root, a child with a Credential runs
// as that uid and gid.
func TestCredentialDropsPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change user")
	}
	s, _ := startSupervisor(t)
	res, err := s.Run(context.Background(), Command{Name: "id", Path: "/bin/sh", Args: []string{"-c", "id -u; id -g"},
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534}, CaptureLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(res.Output)); len(got) != 2 || got[0] != "65534" || got[1] != "65534" {
		t.Errorf("child ran as uid/gid %q, want 65534 65534", got)
	}
}

// TestBeforeStartRunsBeforeEveryStart: the hook runs before the first
// start and before each restart; its error counts as a crash.
func TestBeforeStartRunsBeforeEveryStart(t *testing.T) {
	s, _ := startSupervisor(t)
	var calls atomic.Int32
	c, err := s.Add(ChildSpec{
		Command: Command{Name: "short", Path: "/bin/true"},
		Restart: RestartAlways, MaxRestarts: 3, BackoffInitial: 10 * time.Millisecond, BackoffMax: 10 * time.Millisecond,
		BeforeStart: func() error {
			if calls.Add(1) >= 3 {
				return errors.New("config cannot be repaired")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the child did not give up")
	}
	_, cerr := c.Result()
	if !errors.Is(cerr, ErrCrashLoop) || calls.Load() < 4 {
		t.Errorf("result %v after %d hook calls; want a crash loop after 4 or more", cerr, calls.Load())
	}
	if _, err := s.Add(ChildSpec{Command: Command{Name: "never", Path: "/bin/true"},
		BeforeStart: func() error { return fmt.Errorf("no") }}); err == nil || !strings.Contains(err.Error(), "before starting never") {
		t.Errorf("Add with a failing hook: %v", err)
	}
}
