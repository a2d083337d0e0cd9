package store

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Objects is a namespace of raw objects under a sub-prefix of a store,
// beside the backups and with its own listing (point-in-time recovery
// keeps its AOF segments in one: st.Objects("pitr")). Get one from
// Store.Objects; it is safe for concurrent use.
//
// The contract (tested by backup/store/storetest, like Store's):
//
//   - Names are relative to the prefix: one or more segments joined by "/",
//     each of [A-Za-z0-9_] then [A-Za-z0-9._=+-], at most 255 bytes each and
//     1024 in all ("chain-0001/seg-000042", "manifest.json"). Anything else
//     is ErrInvalidName. Segments starting with "." are the stores' own
//     temporary files and never valid.
//   - Put streams r to EOF and makes the object visible under its name only
//     once it is complete and its stored size equals the bytes read (else
//     ErrIntegrity); an existing object is replaced atomically. A failed or
//     cancelled Put leaves nothing new visible under the name (the old
//     object, if any, stays). Put computes no checksum: wrap r in a
//     Digester to learn the size and sha256 of what was sent.
//   - Get opens an object; a truncated transfer is a Read error, never a
//     silent short read. Stat describes it. Both: ErrNotFound if absent.
//   - List returns the objects whose name starts with prefix (plain string
//     prefix: "chain-0001/", "chain-", or "" for all), at any depth, sorted
//     by name (byte order), complete objects only. An empty or never
//     written namespace is an empty list, not an error.
//   - Delete removes one object; ErrNotFound if absent. Directories that a
//     hierarchical store (dir, Manta) made for a name may stay behind
//     empty; they are never listed.
//   - Objects never appear in Store.List and backups never in
//     Objects.List; two different prefixes never see each other's objects.
type Objects interface {
	Put(ctx context.Context, name string, r io.Reader) error
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	Stat(ctx context.Context, name string) (ObjectInfo, error)
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	Delete(ctx context.Context, name string) error
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Name     string    // relative to the Objects prefix
	Size     int64     // bytes stored
	Modified time.Time // when the store last wrote it
}

const (
	maxSegment = 255
	maxObjName = 1024
)

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._=+-]*$`)

// CheckObjectName returns an error wrapping ErrInvalidName unless name is a
// valid object name (see Objects).
func CheckObjectName(name string) error {
	if name == "" || len(name) > maxObjName {
		return fmt.Errorf("object name %q: empty or longer than %d bytes: %w", name, maxObjName, ErrInvalidName)
	}
	for _, seg := range strings.Split(name, "/") {
		if len(seg) > maxSegment || !segmentRE.MatchString(seg) {
			return fmt.Errorf("object name %q: segment %q is not [A-Za-z0-9_][A-Za-z0-9._=+-]*: %w", name, seg, ErrInvalidName)
		}
	}
	return nil
}

// CheckListPrefix returns an error wrapping ErrInvalidName unless prefix
// is "" or could begin a valid object name.
func CheckListPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	// Complete the last segment so that "chain-" and "chain-1/" check as names.
	if err := CheckObjectName(prefix + "x"); err != nil {
		return fmt.Errorf("list prefix %q: %w", prefix, ErrInvalidName)
	}
	return nil
}

// CleanPrefix checks the prefix given to Store.Objects and returns it
// without a trailing "/" ("pitr/" and "pitr" are the same namespace). Its
// first segment must not look like a backup or a sidecar.
func CleanPrefix(prefix string) (string, error) {
	p := strings.TrimSuffix(prefix, "/")
	if err := CheckObjectName(p); err != nil {
		return "", fmt.Errorf("objects prefix %q: %w", prefix, ErrInvalidName)
	}
	first, _, _ := strings.Cut(p, "/")
	if ValidName(first) || ValidName(strings.TrimSuffix(first, SidecarSuffix)) {
		return "", fmt.Errorf("objects prefix %q: a backup's name: %w", prefix, ErrInvalidName)
	}
	return p, nil
}
