package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"time"
)

// Digester counts and hashes what is read through it; stores use it to fill
// Meta.Size and Meta.SHA256 while streaming.
type Digester struct {
	r io.Reader
	h hash.Hash
	n int64
}

// NewDigester wraps r.
func NewDigester(r io.Reader) *Digester { return &Digester{r: r, h: sha256.New()} }

func (d *Digester) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.n += int64(n)
	d.h.Write(p[:n])
	return n, err
}

// Complete checks the caller's Meta against what was read and returns the
// Meta to store: Size and SHA256 from the stream, Created defaulted to now.
func (d *Digester) Complete(given Meta) (Meta, error) {
	sum := hex.EncodeToString(d.h.Sum(nil))
	if given.Size != 0 && given.Size != d.n {
		return Meta{}, fmt.Errorf("size %d, given %d: %w", d.n, given.Size, ErrIntegrity)
	}
	if given.SHA256 != "" && given.SHA256 != sum {
		return Meta{}, fmt.Errorf("sha256 %s, given %s: %w", sum, given.SHA256, ErrIntegrity)
	}
	given.Size, given.SHA256 = d.n, sum
	if given.Created.IsZero() {
		given.Created = time.Now()
	}
	given.Created = given.Created.UTC().Round(time.Second)
	return given, nil
}

// EncodeMeta renders a sidecar.
func EncodeMeta(m Meta) []byte {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil { // cannot happen: Meta has only plain fields
		panic(err)
	}
	return append(b, '\n')
}

// DecodeMeta parses a sidecar and checks the fields every good backup has.
func DecodeMeta(b []byte) (*Meta, error) {
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse sidecar: %w", err)
	}
	if len(m.SHA256) != sha256.Size*2 {
		return nil, fmt.Errorf("parse sidecar: sha256 %q is not a hex digest", m.SHA256)
	}
	if m.Size < 0 {
		return nil, fmt.Errorf("parse sidecar: negative size %d", m.Size)
	}
	return &m, nil
}
