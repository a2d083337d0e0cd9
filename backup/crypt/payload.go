package crypt

import (
	"bufio"
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// Why this file: age's own reader (filippo.io/age v1.3.2, the newest)
// allocates a fresh 64 KiB buffer for every chunk it opens: 50 MB of
// garbage per 100 MB backup read, which lets the heap of a verifying
// read-back grow to twice what it holds and costs `backup now` its memory
// goal (docs/FIGURES.md, "read-back"). age leaves the header to its public
// DecryptHeader (identities, the header's MAC); this is only the payload,
// the STREAM construction of age's spec
// (https://age-encryption.org/v1): a 16-byte nonce, then 64 KiB chunks
// sealed with ChaCha20-Poly1305 under HKDF-SHA-256(file key, nonce,
// "payload"), each chunk's nonce an 11-byte big-endian counter and a byte
// that is 1 for the last chunk only. It opens each chunk in place, in one
// buffer, and reads a byte ahead to tell whether a full chunk is the last.

const (
	chunkSize    = 64 << 10
	sealedChunk  = chunkSize + chacha20poly1305.Overhead
	payloadNonce = 16
	// maxHeader bounds the header read before the payload: age's own
	// bound (its parser also refuses more than 1024 stanzas). A hybrid
	// (post-quantum) stanza is about 1.6 KB, so a backup for many
	// recipients can have a header of hundreds of KiB.
	maxHeader = 2 << 20
)

// ageIntro is the first line of every age v1 file.
var ageIntro = []byte("age-encryption.org/v1\n")

// readHeader returns the age header at the start of br: its lines up to
// and including the "---" line that carries the header's MAC. br is left
// at the payload's first byte. A malformed header is ErrCorrupt; errors
// of the source pass through.
func readHeader(br *bufio.Reader) ([]byte, error) {
	var hdr []byte
	for lineStart := true; ; {
		piece, err := br.ReadSlice('\n') // a line, or 4 KiB of a longer one
		hdr = append(hdr, piece...)
		switch {
		case len(hdr) > maxHeader:
			return nil, fmt.Errorf("%w: no end of the age header in its first %d MiB", ErrCorrupt, maxHeader>>20)
		case len(hdr) <= len(ageIntro) && !bytes.HasPrefix(ageIntro, hdr):
			return nil, fmt.Errorf("%w: not an age file: it starts %q", ErrCorrupt, hdr)
		case err == bufio.ErrBufferFull:
			lineStart = false
			continue
		case err == io.EOF:
			return nil, fmt.Errorf("%w: the age header ends after %d bytes, before its MAC line (truncated?)", ErrCorrupt, len(hdr))
		case err != nil:
			return nil, err
		}
		// A stanza's lines start "-> " or are base64; only the MAC line
		// starts with "---" (the rest of a long line may, too).
		if lineStart && len(hdr) > len(ageIntro) && bytes.HasPrefix(piece, []byte("---")) {
			return hdr, nil
		}
		lineStart = true
	}
}

// payloadKey reads the payload's nonce from br and returns the AEAD the
// chunks are sealed with.
func payloadKey(br io.Reader, fileKey []byte) (cipher.AEAD, error) {
	nonce := make([]byte, payloadNonce)
	if _, err := io.ReadFull(br, nonce); err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("%w: the file ends within the payload's nonce (truncated?)", ErrCorrupt)
	} else if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, fileKey, nonce, "payload", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.New(key)
}

// payloadReader reads the plaintext of an age payload. Errors of the
// source pass through; a chunk that fails authentication, or a payload
// that ends before its last chunk, is ErrCorrupt.
type payloadReader struct {
	a      cipher.AEAD
	src    *bufio.Reader
	buf    [sealedChunk]byte
	unread []byte // opened, not yet read: in buf
	nonce  [chacha20poly1305.NonceSize]byte
	chunks int64
	err    error // after unread is read: io.EOF after the last chunk
}

func (r *payloadReader) Read(p []byte) (int, error) {
	for len(r.unread) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		r.err = r.next()
	}
	n := copy(p, r.unread)
	r.unread = r.unread[n:]
	return n, nil
}

// next opens the next chunk into unread; it returns io.EOF after the last.
func (r *payloadReader) next() error {
	n, err := io.ReadFull(r.src, r.buf[:])
	last := false
	switch {
	case err == io.EOF:
		return fmt.Errorf("%w: the payload ends after chunk %d, which is not its last (truncated?)", ErrCorrupt, r.chunks)
	case err == io.ErrUnexpectedEOF: // a short chunk ends the payload
		last = true
		if n < chacha20poly1305.Overhead || (n == chacha20poly1305.Overhead && r.chunks > 0) {
			return fmt.Errorf("%w: chunk %d is %d bytes, too short to be the last (truncated?)", ErrCorrupt, r.chunks, n)
		}
	case err != nil:
		return err
	default: // a full chunk is the last if nothing follows it
		if _, err := r.src.Peek(1); err == io.EOF {
			last = true
		} else if err != nil {
			return err
		}
	}
	if last {
		r.nonce[len(r.nonce)-1] = 1
	}
	out, err := r.a.Open(r.buf[:0], r.nonce[:], r.buf[:n], nil)
	if err != nil {
		return fmt.Errorf("%w: chunk %d does not authenticate (changed, truncated, or with data after its end)", ErrCorrupt, r.chunks)
	}
	r.chunks++
	for i := len(r.nonce) - 2; i >= 0; i-- { // the 88-bit big-endian counter
		r.nonce[i]++
		if r.nonce[i] != 0 {
			break
		}
	}
	r.unread = out
	if last {
		return io.EOF
	}
	return nil
}
