package etc

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", `a "b" \c`, "sp ace\ttab\nnl", "ünï\x00\x7f#$'"} {
		t.Run(s, func(t *testing.T) {
			args, err := SplitArgs("requirepass " + Quote(s) + " tail")
			if err != nil {
				t.Fatal(err)
			}
			if len(args) != 3 || args[1] != s || args[2] != "tail" {
				t.Fatalf("SplitArgs(Quote(%q)) = %q", s, args)
			}
		})
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		line string
		want []string
		err  error
	}{
		{`sentinel monitor mymaster 10.0.0.1 6379 2`, []string{"sentinel", "monitor", "mymaster", "10.0.0.1", "6379", "2"}, nil},
		{`dir "/tmp/a b"`, []string{"dir", "/tmp/a b"}, nil},
		{`x 'it\'s'`, []string{"x", "it's"}, nil},
		{`x "\x41\n"`, []string{"x", "A\n"}, nil},
		{`x "open`, nil, ErrUnbalancedQuotes},
		{`x "a"b`, nil, ErrUnbalancedQuotes},
		{"   ", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := SplitArgs(tt.line)
			if !errors.Is(err, tt.err) || strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	okR := RedisConf{Port: 6379, Dir: "/data"}
	okS := SentinelConf{Port: 26379, Dir: "/data", MasterAddr: "10.0.0.1", MasterPort: 6379, Quorum: 2,
		DownAfter: time.Second, FailoverTimeout: time.Minute}
	tests := []struct {
		name string
		err  error
	}{
		{"redis ok", RenderRedis(&bytes.Buffer{}, okR)},
		{"sentinel ok", RenderSentinel(&bytes.Buffer{}, okS)},
	}
	bad := map[string]error{
		"redis port 0 without socket": func() error { c := okR; c.Port = 0; return c.Validate() }(),
		"redis no dir":                func() error { c := okR; c.Dir = ""; return c.Validate() }(),
		"redis bad replicaof":         func() error { c := okR; c.ReplicaOf = "10.0.0.1"; return c.Validate() }(),
		"redis newline in extra":      func() error { c := okR; c.Extra = []string{"a\nb"}; return c.Validate() }(),
		"sentinel hostname master":    func() error { c := okS; c.MasterAddr = "redis"; return c.Validate() }(),
		"sentinel quorum 0":           func() error { c := okS; c.Quorum = 0; return c.Validate() }(),
		"sentinel no down-after":      func() error { c := okS; c.DownAfter = 0; return c.Validate() }(),
		"sentinel bad name":           func() error { c := okS; c.MasterName = "a b"; return c.Validate() }(),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err != nil {
				t.Fatal(tt.err)
			}
		})
	}
	for name, err := range bad {
		t.Run(name, func(t *testing.T) {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFile(path, func(w io.Writer) error { w.Write([]byte("half")); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Fatalf("failed write changed the file: %q", b)
	}
	if err := WriteFile(path, func(w io.Writer) error { return RenderRedis(w, RedisConf{Port: 1, Dir: dir}) }); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v; want 0600", st.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
}

// TestTiltBlocksFailover: Sentinel rejects replicas whose link has been
// down more than 10 x down-after beyond the master's s_down flag; a TILT
// (30 s) that starts as the master dies delays that flag by up to 30 s.
func TestTiltBlocksFailover(t *testing.T) {
	for _, c := range []struct {
		downAfter time.Duration
		blocks    bool
	}{
		{time.Second, true}, {2 * time.Second, true}, {2999 * time.Millisecond, true},
		{3 * time.Second, false}, {5 * time.Second, false}, {time.Minute, false},
	} {
		if got := TiltBlocksFailover(c.downAfter); got != c.blocks {
			t.Errorf("TiltBlocksFailover(%s) = %v, want %v", c.downAfter, got, c.blocks)
		}
	}
}
