package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
)

// rdbMagic starts every RDB file.
var rdbMagic = []byte("REDIS")

// Verify checks a stored backup against what its producer sent: the
// sidecar must be readable and record wantSize bytes, as the store holds,
// and a full read-back must hash to the sidecar's sha256 and decompress to
// something that starts like an RDB file. Errors wrap ErrVerify. It has
// no keys: an encrypted backup fails it (ErrKey); Backup verifies those
// with its Options.Encryption.
func Verify(ctx context.Context, s store.Store, name string, wantSize int64) error {
	_, err := verify(ctx, s, name, wantSize, nil)
	return err
}

// verify is Verify returning the backup's Info; an encrypted backup is
// decrypted with keys.
func verify(ctx context.Context, s store.Store, name string, wantSize int64, keys *crypt.Keys) (store.Info, error) {
	st, err := s.Stat(ctx, name)
	if err != nil {
		return store.Info{}, fmt.Errorf("verify: %w", err)
	}
	if !st.Good() {
		return store.Info{}, fmt.Errorf("verify: sidecar missing or unreadable (%v): %w", st.MetaErr, ErrVerify)
	}
	wantSHA := st.Meta.SHA256
	if st.Meta.Size != wantSize || st.Size != wantSize {
		return store.Info{}, fmt.Errorf("verify: store records size %d (data %d), sent %d: %w",
			st.Meta.Size, st.Size, wantSize, ErrVerify)
	}
	sum, n, err := readBack(ctx, s, name, keys)
	if err != nil {
		return store.Info{}, fmt.Errorf("verify: read back: %w: %w", ErrVerify, err)
	}
	if sum != wantSHA || n != wantSize {
		return store.Info{}, fmt.Errorf("verify: read back sha256 %s size %d, sidecar sha256 %s size %d: %w",
			sum, n, wantSHA, wantSize, ErrVerify)
	}
	return st, nil
}

// readBack reads a backup through its decryption and decompressor and
// returns the sha256 and size of the stored bytes.
func readBack(ctx context.Context, s store.Store, name string, keys *crypt.Keys) (string, int64, error) {
	rc, err := s.Get(ctx, name)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	stored := newCounter(io.TeeReader(rc, h), nil)
	zr, err := OpenPlain(stored, name, keys)
	if err != nil {
		return "", 0, err
	}
	defer zr.Close()
	if err := checkMagic(zr); err != nil {
		return "", 0, err
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return "", 0, fmt.Errorf("decompress: %w", err)
	}
	// Whatever follows the compressed stream is still part of the object.
	if _, err := io.Copy(io.Discard, stored); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), stored.n.Load(), nil
}

// errNotRDB is wrapped when decompressed data does not start with REDIS.
var errNotRDB = errors.New("not an RDB file")

func checkMagic(r io.Reader) error {
	head := make([]byte, len(rdbMagic))
	if _, err := io.ReadFull(r, head); err != nil {
		return fmt.Errorf("read RDB header: %w", err)
	}
	if !bytes.Equal(head, rdbMagic) {
		return fmt.Errorf("header %q: %w", head, errNotRDB)
	}
	return nil
}
