package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
)

// ErrKey is wrapped when a backup is encrypted and no configured key
// opens it (or none is configured). It is not ErrCorrupt: an automatic
// restore never falls back to an older backup past it, which would
// silently roll the cluster back (perhaps to an unencrypted backup) over
// a key that is only missing from this node's configuration.
var ErrKey = errors.New("cannot decrypt the backup")

// OpenPlain returns a reader of the RDB that r, the stored bytes of the
// backup called name, holds: decrypted with keys when the name says it
// is encrypted, then decompressed as the name says. Close releases the
// decompressor; it does not close r. Errors wrap ErrKey when keys cannot
// open the backup, crypt.ErrCorrupt when its ciphertext is damaged.
func OpenPlain(r io.Reader, name string, keys *crypt.Keys) (io.ReadCloser, error) {
	_, compression, err := store.ParseName(name)
	if err != nil {
		return nil, err
	}
	if store.Encrypted(name) {
		pr, err := keys.Decrypt(r)
		if errors.Is(err, crypt.ErrNoKey) || errors.Is(err, crypt.ErrWrongKey) {
			return nil, fmt.Errorf("%w: %w", ErrKey, err)
		}
		if err != nil {
			return nil, err
		}
		r = pr
	}
	return decompressor(r, compression)
}

// keyError says, for a backup that could not be decrypted, whom it was made
// for (its sidecar's recipients, public keys only) and what to do.
func keyError(info store.Info, keys *crypt.Keys, err error) error {
	made := "recipients unknown (no sidecar)"
	if info.Meta != nil && info.Meta.Recipients != "" {
		made = strings.ReplaceAll(info.Meta.Recipients, ",", ", ")
	}
	fix := "set BACKUP_ENCRYPTION_KEY (or BACKUP_ENCRYPTION_KEY_FILE) to the key it was made with"
	if keys != nil {
		fix = "add the key it was made with to BACKUP_ENCRYPTION_KEY (one key a line; the first encrypts new backups)"
	}
	return fmt.Errorf("encrypted for %s: %w; %s; an automatic restore does not fall back to an older backup "+
		"past it (that would roll the cluster back)", made, err, fix)
}

// encryptionMeta fills the sidecar's encryption fields for keys.
func encryptionMeta(m *store.Meta, keys *crypt.Keys) {
	if keys != nil {
		m.Encryption, m.Recipients = crypt.Scheme, strings.Join(keys.Recipients(), ",")
	}
}

// encryptTo returns where a compressor writes for the stored stream w:
// w itself, or an age writer into w when keys are set. finish closes
// the age writer (its last chunk).
func encryptTo(w io.Writer, keys *crypt.Keys) (out io.Writer, finish func() error, err error) {
	if keys == nil {
		return w, func() error { return nil }, nil
	}
	aw, err := keys.Encrypt(w)
	if err != nil {
		return nil, nil, err
	}
	return aw, aw.Close, nil
}

// Decode writes the RDB that backup name holds to w: decrypted with keys
// when it is encrypted, decompressed, its stored bytes checked against
// the sidecar's size and sha256 (a legacy backup has none to check). It
// returns the RDB's size. On error, what w already got must be thrown
// away. It is `redis-autopilot backup decrypt`: reading a backup needs no
// running node.
func Decode(ctx context.Context, s store.Store, name string, keys *crypt.Keys, w io.Writer) (int64, error) {
	info, err := statBackup(ctx, s, name)
	if err != nil {
		return 0, err
	}
	switch {
	case info.MetaErr != nil:
		return 0, fmt.Errorf("%s: sidecar unreadable: %w: %w", name, ErrCorrupt, info.MetaErr)
	case info.Meta != nil && info.Meta.Size != info.Size:
		return 0, fmt.Errorf("%s: stored size %d, sidecar says %d (truncated?): %w", name, info.Size, info.Meta.Size, ErrCorrupt)
	}
	rc, err := s.Get(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", name, err)
	}
	defer rc.Close()
	d := store.NewDigester(rc)
	zr, err := OpenPlain(d, name, keys)
	if errors.Is(err, ErrKey) {
		return 0, fmt.Errorf("%s: %w", name, keyError(info, keys, err))
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	defer zr.Close()
	n, err := io.Copy(w, zr)
	if err == nil {
		_, err = io.Copy(io.Discard, d) // what follows the compressed stream
	}
	if err != nil {
		return n, fmt.Errorf("%s: decode: %w", name, err)
	}
	if m := info.Meta; m != nil {
		if _, err := d.Complete(store.Meta{Size: m.Size, SHA256: m.SHA256}); err != nil {
			return n, fmt.Errorf("%s against its sidecar: %w: %w", name, ErrCorrupt, err)
		}
		if m.RDBSize > 0 && n != m.RDBSize {
			return n, fmt.Errorf("%s: decoded %d bytes, its sidecar records an RDB of %d: %w", name, n, m.RDBSize, ErrCorrupt)
		}
	}
	return n, nil
}
