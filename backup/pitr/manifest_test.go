package pitr

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestManifestRoundTrip(t *testing.T) {
	for name, in := range map[string]string{
		"redis 7.0": "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
		"history and incrs": "file appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.2.base.rdb seq 2 type b\n" +
			"file appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n",
		"quoted name": "file \"my aof\\x01\\\"x\\\\.1.incr.aof\" seq 1 type i\n",
		"7.4 offsets": "file appendonly.aof.1.incr.aof seq 1 type i startoffset 0 endoffset 120\n",
		"empty":       "",
	} {
		t.Run(name, func(t *testing.T) {
			m, err := ParseManifest(strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.String(); got != in {
				t.Fatalf("written back:\n%q\nwant\n%q", got, in)
			}
			again, err := ParseManifest(strings.NewReader(m.String()))
			if err != nil || !reflect.DeepEqual(again, m) {
				t.Fatalf("parsed again: %+v, %v; want %+v", again, err, m)
			}
		})
	}
}

func TestManifestReadsRedisOwn(t *testing.T) {
	r := startAOFRedis(t)
	path := filepath.Join(r.Dir, "appendonlydir", "appendonly.aof.manifest")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	base, ok := m.Base()
	if !ok || base.Type != TypeBase || len(m.Incrs()) != 1 || m.String() != string(b) {
		t.Fatalf("manifest %q parsed as %+v", b, m)
	}
}

func TestManifestLenient(t *testing.T) {
	in := "# comment\r\n\n  type i seq 7 file a.7.incr.aof  \r\nfile 'it\\'s' seq 1 type b"
	m, err := ParseManifest(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []ManifestFile{{Name: "a.7.incr.aof", Seq: 7, Type: TypeIncr}, {Name: "it's", Seq: 1, Type: TypeBase}}
	if !reflect.DeepEqual(m.Files, want) {
		t.Fatalf("got %+v, want %+v", m.Files, want)
	}
}

func TestManifestRejects(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"odd words":     {"file a seq 1 type", "odd number of words"},
		"no seq":        {"file a type i", "no seq"},
		"bad seq":       {"file a seq -1 type i", "not a non-negative integer"},
		"bad type":      {"file a seq 1 type x", `type "x"`},
		"no name":       {"seq 1 type i", "no file name"},
		"path":          {"file ../etc/passwd seq 1 type i", "not a plain name"},
		"two bases":     {"file a seq 1 type b\nfile b seq 2 type b\n", "2 base files"},
		"open quote":    {`file "a seq 1 type i`, "unbalanced quotes"},
		"quote glued":   {`file "a"b seq 1 type i`, "unbalanced quotes"},
		"long line":     {"file " + strings.Repeat("a", 5000) + " seq 1 type i", "longer than 4096"},
		"huge manifest": {strings.Repeat("# filler line\n", MaxManifestSize/14+2), "longer than"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseManifest(strings.NewReader(tc.in))
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrManifest with %q", err, tc.want)
			}
		})
	}
}
