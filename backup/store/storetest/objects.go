package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
)

// objectTests is the Objects part of the contract, run by Run.
var objectTests = []struct {
	name string
	f    func(t *testing.T, fx Fixture)
}{
	{"Objects/RoundTrip", testObjectsRoundTrip},
	{"Objects/ListPrefix", testObjectsList},
	{"Objects/Isolation", testObjectsIsolation},
	{"Objects/FailedPutLeavesOld", testObjectsFailedPut},
	{"Objects/CancelledLeavesNothing", testObjectsCancelled},
	{"Objects/InvalidNames", testObjectsInvalid},
	{"Objects/NotFound", testObjectsNotFound},
}

// objs opens the namespace prefix of fx's store.
func objs(t testing.TB, fx Fixture, prefix string) store.Objects {
	t.Helper()
	o, err := fx.Store.Objects(prefix)
	if err != nil {
		t.Fatalf("objects %q: %v", prefix, err)
	}
	return o
}

// ObjectNames lists the names in o under prefix.
func ObjectNames(t testing.TB, o store.Objects, prefix string) []string {
	t.Helper()
	infos, err := o.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	names := []string{}
	for _, i := range infos {
		names = append(names, i.Name)
	}
	return names
}

// ReadObject reads an object through Get.
func ReadObject(t testing.TB, o store.Objects, name string) []byte {
	t.Helper()
	return readAll(t, o.Get, name)
}

func testObjectsRoundTrip(t *testing.T, fx Fixture) {
	ctx := context.Background()
	o := objs(t, fx, "pitr/")
	data := Data(t, 300<<10)
	name := "chain-0001/seg-000001"
	if err := o.Put(ctx, name, bytes.NewReader(data)); err != nil {
		t.Fatalf("put: %v", err)
	}
	info, err := o.Stat(ctx, name)
	if err != nil || info.Name != name || info.Size != int64(len(data)) || info.Modified.IsZero() {
		t.Fatalf("stat = %+v, %v; want %s of %d bytes", info, err, name, len(data))
	}
	if got := ReadObject(t, o, name); !bytes.Equal(got, data) {
		t.Fatalf("get returned %d bytes, want the %d put", len(got), len(data))
	}
	// Same namespace with or without the trailing slash; Put replaces.
	o2 := objs(t, fx, "pitr")
	if err := o2.Put(ctx, name, strings.NewReader("second")); err != nil {
		t.Fatalf("put again: %v", err)
	}
	if got := string(ReadObject(t, o, name)); got != "second" {
		t.Fatalf("after a second put: %q, want %q", got, "second")
	}
	infos, err := o.List(ctx, "")
	if err != nil || len(infos) != 1 || infos[0].Name != name || infos[0].Size != 6 {
		t.Fatalf("list = %+v, %v; want %s of 6 bytes", infos, err, name)
	}
	if err := o.Delete(ctx, name); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := o.Stat(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stat after delete: %v, want ErrNotFound", err)
	}
	if got := ObjectNames(t, o, ""); len(got) != 0 {
		t.Fatalf("list after delete = %v", got)
	}
}

func testObjectsList(t *testing.T, fx Fixture) {
	ctx := context.Background()
	o := objs(t, fx, "pitr")
	names := []string{"c-2/s-1", "c-1/s-2", "c-1/s-1", "c-10/s-1", "manifest.json", "c-1/sub/deep"}
	for _, n := range names {
		if err := o.Put(ctx, n, strings.NewReader(n)); err != nil {
			t.Fatalf("put %s: %v", n, err)
		}
	}
	for prefix, want := range map[string]string{
		"":       "c-1/s-1 c-1/s-2 c-1/sub/deep c-10/s-1 c-2/s-1 manifest.json",
		"c-1/":   "c-1/s-1 c-1/s-2 c-1/sub/deep",
		"c-1":    "c-1/s-1 c-1/s-2 c-1/sub/deep c-10/s-1",
		"c-1/s-": "c-1/s-1 c-1/s-2",
		"c-1/su": "c-1/sub/deep",
		"m":      "manifest.json",
		"x":      "",
		"c-3/":   "",
	} {
		if got := strings.Join(ObjectNames(t, o, prefix), " "); got != want {
			t.Errorf("list %q = %q, want %q", prefix, got, want)
		}
	}
}

func testObjectsIsolation(t *testing.T, fx Fixture) {
	ctx := context.Background()
	a, b := objs(t, fx, "pitr"), objs(t, fx, "pitr-other/x")
	if err := a.Put(ctx, "seg", strings.NewReader("a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "seg", strings.NewReader("b")); err != nil {
		t.Fatal(err)
	}
	backup := "dump-20261121193000.rdb"
	if err := fx.Store.Put(ctx, backup, strings.NewReader("dump"), store.Meta{}); err != nil {
		t.Fatal(err)
	}
	if got := Names(t, fx.Store); len(got) != 1 || got[0] != backup {
		t.Fatalf("backups = %v, want only %s", got, backup)
	}
	if got := ObjectNames(t, a, ""); len(got) != 1 || got[0] != "seg" {
		t.Fatalf("objects of pitr = %v, want [seg]", got)
	}
	if got := string(ReadObject(t, b, "seg")); got != "b" {
		t.Fatalf("pitr-other/x/seg = %q, want %q", got, "b")
	}
	if err := fx.Store.Delete(ctx, backup); err != nil {
		t.Fatal(err)
	}
	if got := string(ReadObject(t, a, "seg")); got != "a" {
		t.Fatalf("pitr/seg after deleting a backup = %q, want %q", got, "a")
	}
}

func testObjectsFailedPut(t *testing.T, fx Fixture) {
	ctx := context.Background()
	o := objs(t, fx, "pitr")
	if err := o.Put(ctx, "c/old", strings.NewReader("old")); err != nil {
		t.Fatal(err)
	}
	if err := o.Put(ctx, "c/old", &failingReader{n: 200 << 10}); err == nil {
		t.Fatal("put from a failing reader succeeded")
	}
	if err := o.Put(ctx, "c/new", &failingReader{n: 200 << 10}); err == nil {
		t.Fatal("put from a failing reader succeeded")
	}
	if got := strings.Join(ObjectNames(t, o, ""), " "); got != "c/old" {
		t.Fatalf("list after failed puts = %q, want %q", got, "c/old")
	}
	if got := string(ReadObject(t, o, "c/old")); got != "old" {
		t.Fatalf("c/old after a failed replace = %q, want %q", got, "old")
	}
	if _, err := o.Stat(ctx, "c/new"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stat after a failed put: %v, want ErrNotFound", err)
	}
}

func testObjectsCancelled(t *testing.T, fx Fixture) {
	o := objs(t, fx, "pitr")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := o.Put(ctx, "c/seg", &blockingReader{ctx: ctx, cancel: cancel}); err == nil {
		t.Fatal("cancelled put succeeded")
	}
	if got := ObjectNames(t, o, ""); len(got) != 0 {
		t.Fatalf("list after a cancelled put = %v, want nothing", got)
	}
}

func testObjectsInvalid(t *testing.T, fx Fixture) {
	ctx := context.Background()
	for _, p := range []string{"", "/", "../x", "a//b", ".tmp", "dump-20261121193000.rdb", "dump-20261121193000.rdb.meta.json/x"} {
		if _, err := fx.Store.Objects(p); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("objects %q: %v, want ErrInvalidName", p, err)
		}
	}
	o := objs(t, fx, "pitr")
	for _, n := range []string{"", "/a", "a/", "a//b", "../a", "a/../b", ".tmp-1", "a/.x", "a b", strings.Repeat("x", 256)} {
		if err := o.Put(ctx, n, strings.NewReader("x")); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("put %q: %v, want ErrInvalidName", n, err)
		}
		if _, err := o.Stat(ctx, n); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("stat %q: %v, want ErrInvalidName", n, err)
		}
	}
	for _, p := range []string{"/", "../", "a//", ".t"} {
		if _, err := o.List(ctx, p); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("list %q: %v, want ErrInvalidName", p, err)
		}
	}
}

func testObjectsNotFound(t *testing.T, fx Fixture) {
	ctx := context.Background()
	o := objs(t, fx, "pitr")
	if got := ObjectNames(t, o, ""); len(got) != 0 {
		t.Errorf("list of a never written namespace = %v", got)
	}
	if err := o.Put(ctx, "dir/seg", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"seg", "dir", "dir/other"} {
		if _, err := o.Get(ctx, n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get %s: %v, want ErrNotFound", n, err)
		}
		if _, err := o.Stat(ctx, n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("stat %s: %v, want ErrNotFound", n, err)
		}
		if err := o.Delete(ctx, n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete %s: %v, want ErrNotFound", n, err)
		}
	}
	if got := ObjectNames(t, o, ""); len(got) != 1 || got[0] != "dir/seg" {
		t.Errorf("list after deletes of missing names = %v, want [dir/seg]", got)
	}
}

// EndlessListing stores name, larger than maxReply, in s; runs inject,
// which makes the server's next listing endless; and checks that List
// fails with httplimit.ErrTooLarge and an error holding each of want,
// while a Get of name still reads it whole (object data is not bounded).
func EndlessListing(t *testing.T, s store.Store, name string, maxReply int, inject func(), want ...string) {
	t.Helper()
	ctx := context.Background()
	data := bytes.Repeat([]byte("r"), maxReply+1<<20)
	if err := s.Put(ctx, name, bytes.NewReader(data), store.Meta{}); err != nil {
		t.Fatal(err)
	}
	inject()
	_, err := s.List(ctx)
	if !errors.Is(err, httplimit.ErrTooLarge) || !containsAll(err, want) {
		t.Fatalf("List of an endless listing = %v, want ErrTooLarge naming %q", err, want)
	}
	t.Logf("List: %v", err)
	if got := ReadAll(t, s, name); !bytes.Equal(got, data) {
		t.Fatalf("Get of %d bytes read %d; want them whole", len(data), len(got))
	}
}

func containsAll(err error, want []string) bool {
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			return false
		}
	}
	return true
}
