package store

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	at := time.Date(2026, 11, 21, 19, 30, 5, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		compression, want string
	}{{"", "dump-20261121183005.rdb"}, {"gzip", "dump-20261121183005.rdb.gz"}, {"zstd", "dump-20261121183005.rdb.zst"}}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got, err := Name(at, tc.compression)
			if err != nil || got != tc.want {
				t.Fatalf("Name = %q, %v; want %q", got, err, tc.want)
			}
			ts, c, err := ParseName(got)
			if err != nil || !ts.Equal(at) || c != tc.compression {
				t.Fatalf("ParseName(%q) = %v, %q, %v", got, ts, c, err)
			}
		})
	}
	for name, want := range map[string]string{"dump-20261121183005.rdb.zst.age": "zstd",
		"dump-20261121183005.rdb.gz.age": "gzip", "dump-20261121183005.rdb.age": ""} {
		if _, c, err := ParseName(name); err != nil || c != want || !Encrypted(name) {
			t.Errorf("ParseName(%q) = %q, %v (encrypted %v); want %q, encrypted", name, c, err, Encrypted(name), want)
		}
	}
	if Encrypted("dump-20261121183005.rdb.zst") || Encrypted("x.age") {
		t.Error("Encrypted is true for a name that is not an encrypted backup's")
	}
	if _, err := Name(at, "bzip2"); err == nil {
		t.Error("Name accepted bzip2")
	}
	for _, bad := range []string{"dump-2026112118300.rdb", "dump-20261121183005.rdb.bz2", "dump-20261321183005.rdb",
		"x/dump-20261121183005.rdb", "dump-20261121183005.rdb.gz.meta.json", ".tmp-dump-20261121183005.rdb",
		"dump-20261121183005.rdb.age.zst", "dump-20261121183005.rdb.zst.age.age", "dump-20261121183005.rdb.zst.age.meta.json"} {
		if _, _, err := ParseName(bad); !errors.Is(err, ErrInvalidName) || ValidName(bad) {
			t.Errorf("ParseName(%q): %v, want ErrInvalidName", bad, err)
		}
	}
}

func TestDigester(t *testing.T) {
	const sum = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" // sha256("hello")
	read := func() *Digester {
		d := NewDigester(strings.NewReader("hello"))
		if _, err := io.Copy(io.Discard, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	m, err := read().Complete(Meta{Compression: "gzip"})
	if err != nil || m.Size != 5 || m.SHA256 != sum || m.Created.IsZero() || m.Compression != "gzip" {
		t.Fatalf("Complete = %+v, %v", m, err)
	}
	if _, err := read().Complete(Meta{Size: 4}); !errors.Is(err, ErrIntegrity) {
		t.Errorf("wrong size: %v, want ErrIntegrity", err)
	}
	if _, err := read().Complete(Meta{SHA256: strings.Repeat("0", 64)}); !errors.Is(err, ErrIntegrity) {
		t.Errorf("wrong sha256: %v, want ErrIntegrity", err)
	}
	back, err := DecodeMeta(EncodeMeta(m))
	if err != nil || *back != m {
		t.Fatalf("sidecar round trip: %+v, %v; want %+v", back, err, m)
	}
	if !strings.Contains(string(EncodeMeta(m)), `"source_repl_offset"`) {
		t.Errorf("sidecar field names: %s", EncodeMeta(m))
	}
	for _, bad := range []string{"{", `{"size":1,"sha256":"abc"}`, `{"size":-1,"sha256":"` + sum + `"}`} {
		if _, err := DecodeMeta([]byte(bad)); err == nil {
			t.Errorf("DecodeMeta(%s) accepted", bad)
		}
	}
}
