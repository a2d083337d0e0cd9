package registry

import (
	"testing"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// PutIfUnchanged writes all its keys when the checked key still has the
// index read, and nothing when it was written or deleted since.
func TestPutIfUnchanged(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, harness.StartConsul(t), Options{})
	ctx := testCtx(t)
	const key, other = "test/cas/key", "test/cas/other"
	if err := r.Put(ctx, key, "a"); err != nil {
		t.Fatal(err)
	}
	v, index, found, err := r.GetIndexed(ctx, key)
	if err != nil || !found || v != "a" || index == 0 {
		t.Fatalf("GetIndexed = %q, %d, %v, %v", v, index, found, err)
	}
	ok, err := r.PutIfUnchanged(ctx, key, index, map[string]string{key: "b", other: "b-meta"})
	if err != nil || !ok {
		t.Fatalf("PutIfUnchanged with a fresh index = %v, %v", ok, err)
	}
	for k, want := range map[string]string{key: "b", other: "b-meta"} {
		if got, _, _ := r.Get(ctx, k); got != want {
			t.Fatalf("%s = %q, want %q", k, got, want)
		}
	}
	// index is stale now; so is any index of a deleted key.
	ok, err = r.PutIfUnchanged(ctx, key, index, map[string]string{key: "c", other: "c-meta"})
	if err != nil || ok {
		t.Fatalf("PutIfUnchanged with a stale index = %v, %v", ok, err)
	}
	_, index, _, _ = r.GetIndexed(ctx, key)
	if err := r.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.PutIfUnchanged(ctx, key, index, map[string]string{key: "d"}); err != nil || ok {
		t.Fatalf("PutIfUnchanged on a deleted key = %v, %v", ok, err)
	}
	if got, _, _ := r.Get(ctx, other); got != "b-meta" {
		t.Fatalf("%s = %q after refused writes", other, got)
	}
}
