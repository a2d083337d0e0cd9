package devcluster

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestNewLayout(t *testing.T) {
	tests := []struct {
		name                  string
		nodes, offset         int
		dir                   string
		wantErr               string
		consul, redis2, sent2 int
		http2                 int
	}{
		{name: "defaults", nodes: 3, dir: "st", consul: 8500, redis2: 7002, sent2: 27002, http2: 8102},
		{name: "offset", nodes: 2, offset: 1000, dir: "st", consul: 9500, redis2: 8002, sent2: 28002, http2: 9102},
		{name: "no nodes", nodes: 0, dir: "st", wantErr: "0 nodes: want 1-9"},
		{name: "too many nodes", nodes: 10, dir: "st", wantErr: "10 nodes: want 1-9"},
		{name: "negative offset", nodes: 1, offset: -1, dir: "st", wantErr: "port offset -1"},
		{name: "offset past 65535", nodes: 1, offset: 40000, dir: "st", wantErr: "port offset 40000"},
		{name: "no dir", nodes: 1, wantErr: "no state directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLayout(tt.dir, tt.nodes, tt.offset)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrInvalidOptions with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n2 := l.Nodes[1]
			if l.ConsulHTTP != tt.consul || n2.RedisPort != tt.redis2 || n2.SentinelPort != tt.sent2 || n2.HTTP != tt.http2 {
				t.Errorf("ports consul %d node2 %d/%d/%d, want %d %d/%d/%d", l.ConsulHTTP, n2.RedisPort,
					n2.SentinelPort, n2.HTTP, tt.consul, tt.redis2, tt.sent2, tt.http2)
			}
			if len(l.Nodes) != tt.nodes || len(l.Ports()) != 5+3*tt.nodes {
				t.Errorf("%d nodes and %d ports", len(l.Nodes), len(l.Ports()))
			}
			if !filepath.IsAbs(l.Dir) || n2.DataDir != filepath.Join(l.Dir, "node2", "data") ||
				n2.LogPath != filepath.Join(l.Dir, "logs", "node2.log") {
				t.Errorf("paths: dir %s data %s log %s", l.Dir, n2.DataDir, n2.LogPath)
			}
			if got, ok := l.Node("127.0.0.1:" + strconv.Itoa(tt.redis2)); !ok || got.Name != "node2" {
				t.Errorf("Node(redis2) = %v, %v", got.Name, ok)
			}
		})
	}
}

func TestFindBinaries(t *testing.T) {
	tests := []struct {
		name    string
		have    []string
		missing []string
		hints   []string
	}{
		{"all there", []string{"consul", "redis-server", "redis-sentinel"}, nil, nil},
		{"no consul", []string{"redis-server", "redis-sentinel"}, []string{"consul"}, []string{"make deps"}},
		{"nothing", nil, []string{"consul", "redis-server", "redis-sentinel"},
			[]string{"make deps", "apt-get install -y redis-server", "apt-get install -y redis-sentinel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			look := func(name string) (string, error) {
				for _, h := range tt.have {
					if h == name {
						return "/usr/bin/" + name, nil
					}
				}
				return "", errors.New("not found")
			}
			paths, err := FindBinaries(look)
			var me *MissingError
			if tt.missing == nil {
				if err != nil || paths["consul"] != "/usr/bin/consul" {
					t.Fatalf("FindBinaries = %v, %v", paths, err)
				}
				return
			}
			if !errors.As(err, &me) || strings.Join(me.Missing, ",") != strings.Join(tt.missing, ",") {
				t.Fatalf("err = %v, want missing %v", err, tt.missing)
			}
			for _, h := range append(tt.hints, tt.missing...) {
				if !strings.Contains(err.Error(), h) {
					t.Errorf("message lacks %q:\n%s", h, err)
				}
			}
		})
	}
}

// TestCheckPorts holds one of a layout's ports and expects it named.
func TestCheckPorts(t *testing.T) {
	for offset := 11000; offset < 30000; offset += 997 {
		l, err := NewLayout(t.TempDir(), 2, offset)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(l.Nodes[1].SentinelPort))
		if err != nil {
			continue // in use by something else: try another offset
		}
		err = CheckPorts(l)
		ln.Close()
		var pe *PortsInUseError
		if !errors.As(err, &pe) {
			t.Fatalf("CheckPorts = %v, want *PortsInUseError", err)
		}
		want := strconv.Itoa(l.Nodes[1].SentinelPort) + " (node2 sentinel)"
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--port-offset") {
			t.Fatalf("message %q lacks %q or the --port-offset hint", err, want)
		}
		return
	}
	t.Fatal("no offset whose node2 sentinel port was free")
}

func TestPrepareLocksAndEmpties(t *testing.T) {
	l, err := NewLayout(t.TempDir(), 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(l.Dir, "node3", "data", "dump.rdb")
	keep := filepath.Join(l.BackupDir, "redis-1.rdb.zst")
	for _, p := range []string{old, keep} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, err := prepare(l)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("old node data survived: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("backup removed: %v", err)
	}
	if fi, err := os.Stat(l.Nodes[1].ConfigDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("node2 config dir: %v %v", fi, err)
	}
	_, err = prepare(l)
	if !errors.Is(err, ErrDirBusy) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second prepare = %v, want ErrDirBusy naming our pid", err)
	}
}
