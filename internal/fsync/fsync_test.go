package fsync

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

func TestDir(t *testing.T) {
	if err := Dir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "gone")
	if err := Dir(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Dir(%s) = %v, want a not-exist error naming it", missing, err)
	}
}
