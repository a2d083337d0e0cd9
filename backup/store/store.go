// Package store defines where backups live: a Store keeps named backup
// objects (RDB dumps, optionally compressed) each with a JSON metadata
// sidecar. Implementations: backup/store/dir (a local directory) and
// backup/store/manta (Joyent Manta through triton-go).
//
// The contract every implementation keeps (tested by backup/store/storetest):
//
//   - Put streams the data and makes it visible under its name only once it
//     is complete; a failed or cancelled Put leaves no object under the name.
//   - The sidecar "<name>.meta.json" is written after the data. A backup
//     with a readable sidecar is a "good" candidate; one without a sidecar
//     (as the shell version wrote them) is listed with a nil Meta (legacy).
//   - List returns only names matching
//     dump-YYYYMMDDHHMMSS.rdb[.gz|.zst][.age], oldest first. Temporary
//     and sidecar objects are never listed.
//   - Objects(prefix) holds other data (point-in-time recovery's AOF
//     segments) under a sub-prefix with its own listing; see Objects.
//
// A backup pointer (Consul's last-backup key) must be written by the caller
// only after Put returned nil and a Stat (or a Get with a sha256 check)
// matched what the caller produced.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors, always wrapped with the operation and the name.
var (
	// ErrNotFound: no backup under that name.
	ErrNotFound = errors.New("backup not found")
	// ErrAuth: the store refused our credentials.
	ErrAuth = errors.New("storage authentication failed")
	// ErrInvalidName: the name is not dump-YYYYMMDDHHMMSS.rdb[.gz|.zst][.age].
	ErrInvalidName = errors.New("invalid backup name")
	// ErrIntegrity: the data read by Put does not match the Size or SHA256
	// given in Meta, or the store holds a different size than was sent.
	ErrIntegrity = errors.New("backup data does not match its metadata")
)

// BufferSize is the buffer a producer should put between a compressor and
// the pipe it feeds to Put (performance.md: it doubles streaming throughput).
const BufferSize = 1 << 20

// Store keeps backups. All methods are safe for concurrent use.
type Store interface {
	// Put reads r to EOF and stores it under name. meta's Size and SHA256
	// are computed from the stream; when the caller sets them they must
	// match (else ErrIntegrity). Created defaults to the current time.
	// Stat returns the Meta written. On error nothing is visible under name
	// (on Manta: best effort if the sidecar write fails after the data).
	Put(ctx context.Context, name string, r io.Reader, meta Meta) error
	// Get opens the data of a backup. A read error (including a truncated
	// transfer) is returned by Read, never a silent short read.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Stat describes one backup; ErrNotFound if it is missing.
	Stat(ctx context.Context, name string) (Info, error)
	// List returns the complete backups, oldest first.
	List(ctx context.Context) ([]Info, error)
	// Delete removes a backup's data and sidecar; ErrNotFound if neither
	// exists.
	Delete(ctx context.Context, name string) error
	// Objects returns the namespace of raw objects under prefix ("pitr" or
	// "pitr/"), beside the backups (see Objects for its contract). It makes
	// no request; ErrInvalidName for a bad prefix (see CleanPrefix).
	Objects(prefix string) (Objects, error)
}

// Meta is the sidecar "<name>.meta.json".
type Meta struct {
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`      // lowercase hex
	Compression string `json:"compression"` // "", "gzip" or "zstd"
	// RDBSize is the size of the RDB the stored bytes decompress (and
	// decrypt) to; a restore refuses a backup that decompresses to more.
	// 0 in sidecars written before it was recorded.
	RDBSize int64 `json:"rdb_size,omitempty"`
	// Encryption is "age" for an encrypted backup (the stored bytes, which
	// Size and SHA256 describe, are then the age file), else "".
	Encryption string `json:"encryption,omitempty"`
	// Recipients name, public side only and comma-separated, whom an
	// encrypted backup is for: age recipients (age1...) or "passphrase
	// (scrypt)". Never a key. (A string keeps Meta comparable.)
	Recipients       string    `json:"recipients,omitempty"`
	RedisVersion     string    `json:"redis_version,omitempty"`
	Server           string    `json:"server,omitempty"`      // "Redis 8.0.2", "Valkey 8.1.1" (whose redis_version is 7.2.4)
	SourceRole       string    `json:"source_role,omitempty"` // "master" or "replica"
	SourceReplOffset int64     `json:"source_repl_offset"`
	Created          time.Time `json:"created"` // RFC 3339
}

// Info describes a stored backup.
type Info struct {
	Name     string
	Size     int64     // bytes of data as stored
	Modified time.Time // when the store last wrote the data
	// Meta is nil for a legacy backup without a sidecar.
	Meta *Meta
	// MetaErr is set when a sidecar exists but cannot be read or parsed;
	// Meta is then nil and the backup is not a good candidate.
	MetaErr error
}

// Good reports whether the backup has readable metadata whose size matches
// the stored data.
func (i Info) Good() bool {
	return i.Meta != nil && i.MetaErr == nil && i.Meta.Size == i.Size
}
