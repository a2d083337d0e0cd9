// Package storetest is the contract test suite every store.Store passes,
// its Objects namespaces included. Call Run from a store's own tests with
// a function that makes an empty store.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
)

// Fixture is an empty store plus a way to write raw objects into the same
// place, bypassing Put (legacy backups, foreign files).
type Fixture struct {
	Store  store.Store
	PutRaw func(t *testing.T, name string, data []byte)
}

// Run runs the contract tests; newFixture is called once per subtest.
func Run(t *testing.T, newFixture func(t *testing.T) Fixture) {
	tests := []struct {
		name string
		f    func(t *testing.T, fx Fixture)
	}{
		{"RoundTrip", testRoundTrip},
		{"EncryptedBackup", testEncrypted},
		{"ListFiltersAndSorts", testList},
		{"LegacyWithoutSidecar", testLegacy},
		{"FailedReaderLeavesNothing", testFailedReader},
		{"CancelledLeavesNothing", testCancelled},
		{"IntegrityMismatch", testIntegrity},
		{"InvalidName", testInvalidName},
		{"NotFound", testNotFound},
	}
	for _, tc := range append(tests, objectTests...) {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, newFixture(t)) })
	}
}

// Data returns n random bytes.
func Data(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// SHA256 is the hex digest of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ReadAll reads a backup through Get.
func ReadAll(t testing.TB, s store.Store, name string) []byte {
	t.Helper()
	return readAll(t, s.Get, name)
}

// readAll reads what get opens.
func readAll(t testing.TB, get func(context.Context, string) (io.ReadCloser, error), name string) []byte {
	t.Helper()
	rc, err := get(context.Background(), name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// Names lists the names in the store.
func Names(t testing.TB, s store.Store) []string {
	t.Helper()
	infos, err := s.List(context.Background())
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	names := []string{}
	for _, i := range infos {
		names = append(names, i.Name)
	}
	return names
}

func testRoundTrip(t *testing.T, fx Fixture) {
	ctx := context.Background()
	data := Data(t, 300<<10)
	name := "dump-20261121193000.rdb.gz"
	created := time.Date(2026, 11, 21, 19, 30, 0, 0, time.UTC)
	in := store.Meta{Compression: "gzip", RedisVersion: "7.0.15", SourceRole: "replica",
		SourceReplOffset: 4242, Created: created, SHA256: SHA256(data)}
	if err := fx.Store.Put(ctx, name, bytes.NewReader(data), in); err != nil {
		t.Fatalf("put: %v", err)
	}
	info, err := fx.Store.Stat(ctx, name)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	want := in
	want.Size = int64(len(data))
	if info.Meta == nil || *info.Meta != want || info.Size != want.Size || !info.Good() {
		t.Fatalf("stat = %+v meta %+v, want meta %+v", info, info.Meta, want)
	}
	if got := ReadAll(t, fx.Store, name); !bytes.Equal(got, data) {
		t.Fatalf("get returned %d bytes, want the %d put", len(got), len(data))
	}
	if got := Names(t, fx.Store); len(got) != 1 || got[0] != name {
		t.Fatalf("list = %v, want [%s]", got, name)
	}
	if err := fx.Store.Delete(ctx, name); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := fx.Store.Stat(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stat after delete: %v, want ErrNotFound", err)
	}
	if got := Names(t, fx.Store); len(got) != 0 {
		t.Fatalf("list after delete = %v", got)
	}
}

// testEncrypted: an encrypted backup's name (".age") is stored, listed
// in time order with the others, and its sidecar keeps the encryption
// and recipients; a name with ".age" elsewhere is not a backup.
func testEncrypted(t *testing.T, fx Fixture) {
	ctx := context.Background()
	data := Data(t, 70<<10)
	name := "dump-20261121193000.rdb.zst.age"
	in := store.Meta{Compression: "zstd", Encryption: "age", SHA256: SHA256(data),
		Recipients: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p,passphrase (scrypt)"}
	if err := fx.Store.Put(ctx, name, bytes.NewReader(data), in); err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := fx.Store.Put(ctx, "dump-20261121180000.rdb.zst", bytes.NewReader(data), store.Meta{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	fx.PutRaw(t, "dump-20261121200000.rdb.age.zst", []byte("x"))
	info, err := fx.Store.Stat(ctx, name)
	if err != nil || info.Meta == nil || info.Meta.Encryption != "age" || info.Meta.Recipients != in.Recipients || !info.Good() {
		t.Fatalf("stat = %+v meta %+v, %v", info, info.Meta, err)
	}
	if got := ReadAll(t, fx.Store, name); !bytes.Equal(got, data) {
		t.Fatalf("get returned %d bytes, want the %d put", len(got), len(data))
	}
	if got := Names(t, fx.Store); len(got) != 2 || got[1] != name {
		t.Fatalf("list = %v, want [dump-20261121180000.rdb.zst %s]", got, name)
	}
	if err := fx.Store.Delete(ctx, name); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

func testList(t *testing.T, fx Fixture) {
	ctx := context.Background()
	names := []string{"dump-20261121100000.rdb.zst", "dump-20261120100000.rdb", "dump-20261122100000.rdb.gz"}
	for _, n := range names {
		if err := fx.Store.Put(ctx, n, bytes.NewReader([]byte(n)), store.Meta{}); err != nil {
			t.Fatalf("put %s: %v", n, err)
		}
	}
	fx.PutRaw(t, "notes.txt", []byte("x"))
	fx.PutRaw(t, "dump-2026.rdb", []byte("x"))
	got := Names(t, fx.Store)
	want := []string{names[1], names[0], names[2]}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("list = %v, want %v", got, want)
	}
}

func testLegacy(t *testing.T, fx Fixture) {
	name := "dump-20190101000000.rdb.gz"
	fx.PutRaw(t, name, []byte("legacy"))
	infos, err := fx.Store.List(context.Background())
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(infos) != 1 || infos[0].Name != name || infos[0].Meta != nil || infos[0].Size != 6 || infos[0].Good() {
		t.Fatalf("list = %+v, want one legacy entry %s without meta", infos, name)
	}
	fx.PutRaw(t, name+store.SidecarSuffix, []byte("{not json"))
	info, err := fx.Store.Stat(context.Background(), name)
	if err != nil || info.MetaErr == nil || info.Good() {
		t.Fatalf("stat with a corrupt sidecar = %+v, %v; want MetaErr set", info, err)
	}
}

// failingReader returns n bytes then an error.
type failingReader struct{ n int }

var errProducer = errors.New("producer failed")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errProducer
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func testFailedReader(t *testing.T, fx Fixture) {
	name := "dump-20261121193000.rdb"
	err := fx.Store.Put(context.Background(), name, &failingReader{n: 200 << 10}, store.Meta{})
	if err == nil {
		t.Fatal("put from a failing reader succeeded")
	}
	assertAbsent(t, fx.Store, name)
}

// blockingReader returns some bytes, then cancels and blocks until ctx is done.
type blockingReader struct {
	ctx    context.Context
	cancel func()
	sent   bool
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, bytes.Repeat([]byte("r"), 64<<10)), nil
	}
	b.cancel()
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func testCancelled(t *testing.T, fx Fixture) {
	name := "dump-20261121193000.rdb"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := fx.Store.Put(ctx, name, &blockingReader{ctx: ctx, cancel: cancel}, store.Meta{})
	if err == nil {
		t.Fatal("cancelled put succeeded")
	}
	assertAbsent(t, fx.Store, name)
}

func testIntegrity(t *testing.T, fx Fixture) {
	name := "dump-20261121193000.rdb"
	err := fx.Store.Put(context.Background(), name, bytes.NewReader([]byte("data")),
		store.Meta{SHA256: SHA256([]byte("other"))})
	if !errors.Is(err, store.ErrIntegrity) {
		t.Fatalf("put with a wrong sha256: %v, want ErrIntegrity", err)
	}
	assertAbsent(t, fx.Store, name)
}

func testInvalidName(t *testing.T, fx Fixture) {
	for _, n := range []string{"", "../dump-20261121193000.rdb", "dump-20261121193000.rdb.meta.json", ".tmp-1", "a/b"} {
		err := fx.Store.Put(context.Background(), n, bytes.NewReader(nil), store.Meta{})
		if !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("put %q: %v, want ErrInvalidName", n, err)
		}
	}
}

func testNotFound(t *testing.T, fx Fixture) {
	ctx := context.Background()
	name := "dump-20261121193000.rdb"
	if _, err := fx.Store.Get(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get: %v, want ErrNotFound", err)
	}
	if err := fx.Store.Delete(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete: %v, want ErrNotFound", err)
	}
	if got := Names(t, fx.Store); len(got) != 0 {
		t.Errorf("list of an empty store = %v", got)
	}
}

func assertAbsent(t *testing.T, s store.Store, name string) {
	t.Helper()
	if got := Names(t, s); len(got) != 0 {
		t.Fatalf("list after a failed put = %v, want nothing", got)
	}
	if _, err := s.Stat(context.Background(), name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stat after a failed put: %v, want ErrNotFound", err)
	}
}
