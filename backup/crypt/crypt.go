// Package crypt encrypts backups with age (filippo.io/age): streaming,
// authenticated encryption to X25519 (or post-quantum hybrid) recipients
// or to a passphrase through scrypt. The pipeline compresses first, then
// encrypts; an encrypted backup's name ends in store.EncryptedSuffix.
//
// Keys hold what BACKUP_ENCRYPTION_KEY gives (age identities as
// age-keygen prints them, or a passphrase; several, one a line, for key
// rotation) and BACKUP_ENCRYPTION_RECIPIENTS adds (public age1...
// recipients). The first key encrypts new backups, for its own recipient
// and the extra ones; every key is tried to decrypt. Keys never print
// their secrets: String and GoString describe only the public side.
package crypt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// Scheme is the sidecar's "encryption" of an encrypted backup.
const Scheme = "age"

// PassphraseRecipient describes a passphrase recipient in sidecars and
// messages (the passphrase itself is never recorded).
const PassphraseRecipient = "passphrase (scrypt)"

// Scrypt work factors (log2 N). Encrypting costs 128·8·2^N bytes of
// memory once per backup (64 MiB at 16, about 0.2 s of one core);
// decrypting accepts up to age's own default of 18 (256 MiB), so a
// header read from the store cannot make us allocate more.
const (
	scryptWorkFactor    = 16
	scryptMaxWorkFactor = 18
)

// minPassphrase is the shortest passphrase accepted: a backup bucket may
// be attacked offline at leisure.
const minPassphrase = 16

// Errors of Decrypt, each wrapped with what was tried.
var (
	// ErrNoKey: the backup is encrypted and no key is configured.
	ErrNoKey = errors.New("the backup is encrypted and no BACKUP_ENCRYPTION_KEY is set")
	// ErrWrongKey: none of the configured keys opens the backup.
	ErrWrongKey = errors.New("none of the keys in BACKUP_ENCRYPTION_KEY opens the backup")
	// ErrCorrupt: the ciphertext is not a well-formed age file, or fails
	// its authentication (a flipped byte, a truncated object).
	ErrCorrupt = errors.New("encrypted data is damaged")
)

// Keys are the identities that decrypt and the recipients that new
// backups are encrypted for. A nil *Keys means encryption is off.
type Keys struct {
	ids        []age.Identity
	idNames    []string // the public side of each identity
	recipients []age.Recipient
	recNames   []string // the public side of each recipient
}

// String describes the keys by their public side only.
func (k *Keys) String() string {
	if k == nil {
		return "no encryption"
	}
	return fmt.Sprintf("age, for %s", strings.Join(k.recNames, ", "))
}

// GoString is String: %#v must not print the identities either.
func (k *Keys) GoString() string { return "crypt.Keys(" + k.String() + ")" }

// Recipients describes, public side only, whom new backups are encrypted
// for (recorded in the sidecar).
func (k *Keys) Recipients() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.recNames...)
}

// Identities describes, public side only, the recipients the configured
// keys can decrypt for.
func (k *Keys) Identities() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.idNames...)
}

// Encrypt returns a writer encrypting into w for k's recipients; Close
// writes the last chunk (it does not close w). Data written is sealed in
// 64 KiB chunks, so the caller should buffer w.
func (k *Keys) Encrypt(w io.Writer) (io.WriteCloser, error) {
	if k == nil {
		return nil, errors.New("encrypt: no key configured")
	}
	aw, err := age.Encrypt(w, k.recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return aw, nil
}

// Decrypt returns a reader of the plaintext of the age file r. It reads
// the header first: ErrNoKey when k is nil, ErrWrongKey when no identity
// matches, ErrCorrupt for a malformed header. The reader's errors wrap
// ErrCorrupt when the data fails authentication or ends early; errors
// reading r pass through. age checks the header and its MAC; the payload
// is read by payloadReader, which reuses one buffer (payload.go says why).
func (k *Keys) Decrypt(r io.Reader) (io.Reader, error) {
	if k == nil {
		return nil, ErrNoKey
	}
	br := bufio.NewReaderSize(r, 4<<10)
	hdr, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	fileKey, err := age.DecryptHeader(hdr, k.ids...)
	var nomatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nomatch):
		return nil, fmt.Errorf("%w (tried %s)", ErrWrongKey, strings.Join(k.idNames, ", "))
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	a, err := payloadKey(br, fileKey)
	if err != nil {
		return nil, err
	}
	return &payloadReader{a: a, src: br}, nil
}
