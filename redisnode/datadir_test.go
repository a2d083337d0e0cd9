package redisnode

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHasData(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // path -> content; a path ending in / is a dir
		want  bool
	}{
		{"missing dir", nil, false},
		{"empty dir", map[string]string{}, false},
		{"empty dump.rdb", map[string]string{"dump.rdb": ""}, false},
		{"dump.rdb", map[string]string{"dump.rdb": "REDIS0010"}, true},
		{"legacy appendonly.aof", map[string]string{"appendonly.aof": "*1\r\n"}, true},
		{"empty appendonlydir", map[string]string{"appendonlydir/": ""}, false},
		{"Redis 7 appendonlydir", map[string]string{"appendonlydir/appendonly.aof.1.base.rdb": "REDIS", "appendonlydir/appendonly.aof.manifest": "x"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tc.files != nil {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			for p, content := range tc.files {
				full := filepath.Join(dir, p)
				if p[len(p)-1] == '/' {
					if err := os.MkdirAll(full, 0o700); err != nil {
						t.Fatal(err)
					}
					continue
				}
				os.MkdirAll(filepath.Dir(full), 0o700)
				if err := os.WriteFile(full, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := HasData(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("HasData = %v, want %v", got, tc.want)
			}
		})
	}
}
