package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want hclog.Level
	}{
		{"DEBUG", hclog.Debug}, // the shell version's spelling
		{"debug", hclog.Debug},
		{" Info ", hclog.Info},
		{"TRACE", hclog.Trace},
		{"WARN", hclog.Warn},
		{"warning", hclog.Warn},
		{"ERROR", hclog.Error},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "verbose", "FATAL", "off"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := ParseLevel(bad); !errors.Is(err, ErrLevel) {
				t.Fatalf("ParseLevel(%q) error = %v; want ErrLevel", bad, err)
			}
		})
	}
}

func TestNewFiltersByLevelAndNames(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Level: "warn", Output: &buf})
	if err != nil {
		t.Fatal(err)
	}
	sup := log.Named("supervisor")
	sup.Info("hidden", "k", 1)
	sup.Warn("child exited", "name", "redis-server")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("INFO line written at WARN level: %q", out)
	}
	for _, want := range []string{"[WARN]", "supervisor: child exited", "name=redis-server"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

func TestNewJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Level: "DEBUG", JSON: true, Output: &buf})
	if err != nil {
		t.Fatal(err)
	}
	log.Named("registry").Debug("registered", "service", "redis")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON object: %q: %v", buf.String(), err)
	}
	want := map[string]any{"@level": "debug", "@module": "registry", "@message": "registered", "service": "redis"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v; want %v (record %v)", k, rec[k], v, rec)
		}
	}
}

func TestNewDefaultsAndErrors(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Output: &buf})
	if err != nil {
		t.Fatal(err)
	}
	if !log.IsInfo() || log.IsDebug() {
		t.Errorf("empty Level: want INFO")
	}
	if _, err := New(Options{Level: "loud"}); !errors.Is(err, ErrLevel) {
		t.Errorf("New with bad level: err = %v; want ErrLevel", err)
	}
}
