package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/config"
)

type env map[string]string

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

// runCmd runs the command line in-process with env and returns the exit
// code, stdout and stderr.
func runCmd(t *testing.T, e env, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, e.lookup, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpListsCommandsAndEveryVariable(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"run", "--help"}, {"status", "--json", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, _ := runCmd(t, env{}, args...)
			if code != exitOK {
				t.Fatalf("exit %d; want %d", code, exitOK)
			}
			want := append([]string{"run", "health", "status [--json]", "backup now|list|restore NAME|delete NAME", "dev [--nodes N]", "version"}, config.Vars()...)
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q", w)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, env{}, "version")
	if code != exitOK || !strings.Contains(out, "redis-autopilot dev") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("version: exit %d, output %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		env  env
		args []string
		want string // in the one stderr line
	}{
		{"bad port", env{"REDIS_PORT": "70000"}, nil, "REDIS_PORT=70000: must be a port number 1-65535"},
		{"bad config for a subcommand", env{"LOG_LEVEL": "loud"}, []string{"health"}, "LOG_LEVEL=loud"},
		{"bad flag", env{}, []string{"status", "--json", "--check-ttl=1s"}, "CHECK_TTL"},
		{"unknown command", env{}, []string{"promote"}, `unknown command "promote"`},
		{"backup without action", env{}, []string{"backup"}, "missing action"},
		{"restore without name", env{}, []string{"backup", "restore", "--redis-port=7000"}, "NAME"},
		{"bad backup action", env{}, []string{"backup", "prune"}, `unknown action "prune"`},
		{"dev nodes", env{}, []string{"dev", "--nodes", "0"}, "--nodes=0"},
		{"secret not printed", env{"REDIS_PASSWORD": "hunter2", "MANTA_USER": "alice"}, nil, "MANTA_KEY_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.env, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d; want %d", code, exitUsage)
			}
			if out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, "hunter2") {
				t.Errorf("stdout %q, stderr %q: want nothing and one line holding %q", out, errOut, tt.want)
			}
		})
	}
}

func TestParseCommandArgs(t *testing.T) {
	tests := []struct {
		name     string
		parse    func([]string) (request, []string, error)
		args     []string
		want     request
		wantRest string
	}{
		{"status json anywhere", parseStatus, []string{"--redis-port", "7000", "--json"}, request{JSON: true}, "--redis-port 7000"},
		{"status without json", parseStatus, []string{"--log-level=debug"}, request{}, "--log-level=debug"},
		{"dev nodes", parseDev, []string{"--nodes", "5", "--backup-dir", "/tmp/b"}, request{Nodes: 5}, "--backup-dir /tmp/b"},
		{"dev default", parseDev, nil, request{Nodes: 3}, ""},
		{"backup restore", parseBackup, []string{"restore", "redis-2026", "--log-level", "debug"},
			request{Backup: backupRequest{Action: "restore", Name: "redis-2026"}}, "--log-level debug"},
		{"backup now", parseBackup, []string{"now"}, request{Backup: backupRequest{Action: "now"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rest, err := tt.parse(tt.args)
			if err != nil || got != tt.want || strings.Join(rest, " ") != tt.wantRest {
				t.Errorf("got %+v rest %q err %v; want %+v rest %q", got, rest, err, tt.want, tt.wantRest)
			}
		})
	}
}

// buildBinary builds redis-autopilot with a version stamp into a temp dir.
func buildBinary(t *testing.T, version string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "redis-autopilot")
	cmd := exec.Command(goTool, "build", "-ldflags", "-X main.version="+version, "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t, "1.2.3-test")
	t.Run("bad config exits 2", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = []string{"REDIS_PORT=70000", "REDIS_PASSWORD=hunter2"}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != exitUsage {
			t.Fatalf("exit code %d (%v); want %d", code, err, exitUsage)
		}
		want := "redis-autopilot: REDIS_PORT=70000: must be a port number 1-65535\n"
		if stderr.String() != want || stdout.Len() != 0 {
			t.Errorf("stderr %q stdout %q; want stderr %q", stderr.String(), stdout.String(), want)
		}
	})
	t.Run("version stamp", func(t *testing.T) {
		out, err := exec.Command(bin, "version").Output()
		if err != nil || !strings.HasPrefix(string(out), "redis-autopilot 1.2.3-test (") {
			t.Errorf("version: %q, %v", out, err)
		}
	})
}
