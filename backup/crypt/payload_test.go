package crypt

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// Every size around the chunk boundaries reads back as age wrote it, and
// as age's own reader reads it, through reads of every size.
func TestPayloadReaderReadsWhatAgeWrites(t *testing.T) {
	id := newIdentity(t)
	k := mustKeys(t, keygenOutput(id))
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 2 * chunkSize, 3*chunkSize + 5} {
		plain := randomBytes(t, n)
		sealed := seal(t, k, plain)
		r, err := k.Decrypt(bytes.NewReader(sealed))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if err := iotest.TestReader(r, plain); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		ar, err := age.Decrypt(bytes.NewReader(sealed), id)
		if err != nil {
			t.Fatal(err)
		}
		if theirs, err := io.ReadAll(ar); err != nil || !bytes.Equal(theirs, plain) {
			t.Fatalf("%d bytes: age reads %d bytes, %v", n, len(theirs), err)
		}
	}
}

// crafted seals chunks as a writer that breaks age's rules would: each
// chunk with the last flag or not, in the order given.
type crafted struct {
	hdr, nonce []byte
	a          interface {
		Seal(dst, nonce, plaintext, additionalData []byte) []byte
	}
}

func newCrafted(t *testing.T, k *Keys, id age.Identity) *crafted {
	t.Helper()
	sealed := seal(t, k, nil)
	hdr, err := readHeader(bufio.NewReader(bytes.NewReader(sealed)))
	if err != nil {
		t.Fatal(err)
	}
	fileKey, err := age.DecryptHeader(hdr, id)
	if err != nil {
		t.Fatal(err)
	}
	c := &crafted{hdr: hdr, nonce: randomBytes(t, payloadNonce)}
	key, err := hkdf.Key(sha256.New, fileKey, c.nonce, "payload", chacha20poly1305.KeySize)
	if err != nil {
		t.Fatal(err)
	}
	if c.a, err = chacha20poly1305.New(key); err != nil {
		t.Fatal(err)
	}
	return c
}

type chunk struct {
	counter byte
	last    bool
	plain   []byte
}

func (c *crafted) file(chunks ...chunk) []byte {
	out := append(append([]byte(nil), c.hdr...), c.nonce...)
	for _, ch := range chunks {
		var nonce [chacha20poly1305.NonceSize]byte
		nonce[10] = ch.counter
		if ch.last {
			nonce[11] = 1
		}
		out = c.a.Seal(out, nonce[:], ch.plain, nil)
	}
	return out
}

// What age's writer never makes, and its reader refuses, is refused as
// damaged; what it may make is read.
func TestPayloadReaderRefusesWhatAgeRefuses(t *testing.T) {
	id := newIdentity(t)
	k := mustKeys(t, keygenOutput(id))
	c := newCrafted(t, k, id)
	full, short := bytes.Repeat([]byte("f"), chunkSize), []byte("short")
	good := []struct {
		name   string
		chunks []chunk
		want   []byte
	}{
		{"empty payload", []chunk{{0, true, nil}}, nil},
		{"a full last chunk", []chunk{{0, false, full}, {1, true, full}}, append(append([]byte(nil), full...), full...)},
		{"a short last chunk", []chunk{{0, false, full}, {1, true, short}}, append(append([]byte(nil), full...), short...)},
	}
	for _, g := range good {
		got, err := open(k, c.file(g.chunks...))
		if err != nil || !bytes.Equal(got, g.want) {
			t.Errorf("%s: read %d bytes, %v; want %d", g.name, len(got), err, len(g.want))
		}
	}
	bad := []struct {
		name string
		file []byte
	}{
		{"an empty last chunk after a full one", c.file(chunk{0, false, full}, chunk{1, true, nil})},
		{"a full last chunk without the last flag", c.file(chunk{0, false, full}, chunk{1, false, full})},
		{"a short chunk without the last flag", c.file(chunk{0, false, short})},
		{"a chunk after the last", c.file(chunk{0, true, full}, chunk{1, true, short})},
		{"chunks swapped", c.file(chunk{1, false, full}, chunk{0, true, short})},
		{"data after the last chunk", append(c.file(chunk{0, true, short}), "trailing"...)},
		{"only the header", c.hdr},
		{"half a nonce", append(append([]byte(nil), c.hdr...), c.nonce[:7]...)},
		{"no chunk", append(append([]byte(nil), c.hdr...), c.nonce...)},
		{"a chunk shorter than its tag", c.file(chunk{0, false, full}, chunk{1, true, nil})[:len(c.hdr)+payloadNonce+sealedChunk+9]},
	}
	for _, b := range bad {
		if got, err := open(k, b.file); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: read %d bytes, %v; want ErrCorrupt", b.name, len(got), err)
		}
	}
}

// A header that is not age's, or never ends, is refused without reading
// the whole stream.
func TestPayloadReaderRefusesBadHeaders(t *testing.T) {
	k := mustKeys(t, keygenOutput(newIdentity(t)))
	for name, in := range map[string]io.Reader{
		"zstd":          bytes.NewReader([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}),
		"RDB":           strings.NewReader("REDIS0011\xfa\x09redis-ver"),
		"endless lines": io.MultiReader(strings.NewReader("age-encryption.org/v1\n"), endless{'\n'}),
		"endless line":  io.MultiReader(strings.NewReader("age-encryption.org/v1\n-> X25519 "), endless{'A'}),
		"empty":         strings.NewReader(""),
	} {
		if _, err := k.Decrypt(in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// A header age reads, we read: one for 60 post-quantum recipients (about
// 94 KiB), and one with a stanza line longer than the reader's 4 KiB
// buffer whose rest starts with "---" (not the MAC line).
func TestPayloadReaderReadsLongHeaders(t *testing.T) {
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for range 60 {
		other, err := age.GenerateHybridIdentity()
		if err != nil {
			t.Fatal(err)
		}
		extra = append(extra, other.Recipient().String())
	}
	k := mustKeys(t, pq.String(), extra...)
	plain := randomBytes(t, 3*chunkSize)
	sealed := seal(t, k, plain)
	if n := bytes.Index(sealed, []byte("\n---")); n < 64<<10 {
		t.Fatalf("header of %d bytes, want over 64 KiB", n)
	}
	if got, err := open(k, sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("60 recipients: read %d bytes, %v", len(got), err)
	}

	id := newIdentity(t)
	k = mustKeys(t, keygenOutput(id))
	sealed = seal(t, k, plain)
	macAt := bytes.Index(sealed, []byte("\n--- ")) + 1
	fileKey, err := age.DecryptHeader(sealed[:bytes.IndexByte(sealed[macAt:], '\n')+macAt+1], id)
	if err != nil {
		t.Fatal(err)
	}
	// an unknown stanza (X25519 identities skip it), its line 4099 bytes
	hdr := append([]byte(nil), sealed[:macAt]...)
	hdr = append(hdr, "-> x "+strings.Repeat("A", 4091)+"---\n\n---"...)
	macKey, err := hkdf.Key(sha256.New, fileKey, nil, "header", 32)
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, macKey)
	h.Write(hdr)
	hdr = append(append(append(hdr, ' '), base64.RawStdEncoding.EncodeToString(h.Sum(nil))...), '\n')
	crafted := append(hdr, sealed[macAt+bytes.IndexByte(sealed[macAt:], '\n')+1:]...)
	ar, err := age.Decrypt(bytes.NewReader(crafted), id)
	if err != nil {
		t.Fatalf("age refuses the crafted file: %v", err)
	}
	if theirs, err := io.ReadAll(ar); err != nil || !bytes.Equal(theirs, plain) {
		t.Fatalf("age reads %d bytes, %v", len(theirs), err)
	}
	if got, err := open(k, crafted); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("a 4099-byte stanza line: read %d bytes, %v", len(got), err)
	}
}

// endless repeats its byte for ever.
type endless struct{ b byte }

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	return len(p), nil
}

// An error of the source (a store that fails half-way) is that error, not
// "damaged".
func TestPayloadReaderPassesSourceErrors(t *testing.T) {
	k := mustKeys(t, keygenOutput(newIdentity(t)))
	sealed := seal(t, k, randomBytes(t, 3*chunkSize))
	boom := errors.New("connection reset")
	payloadAt := bytes.IndexByte(sealed[bytes.Index(sealed, []byte("\n---"))+1:], '\n') + bytes.Index(sealed, []byte("\n---")) + 2
	// ... and right after a full chunk, where the reader peeks for more
	for _, at := range []int{10, 200, len(sealed) / 2, len(sealed) - 1, payloadAt + payloadNonce + sealedChunk} {
		src := io.MultiReader(bytes.NewReader(sealed[:at]), iotest.ErrReader(boom))
		r, err := k.Decrypt(src)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
			t.Errorf("source fails after %d bytes: %v, want the source's error alone", at, err)
		}
	}
}

// Reading allocates nothing per chunk: age's reader allocated 64 KiB for
// each, which let a verifying read-back's heap grow to twice its size.
func TestPayloadReaderAllocatesNothingPerChunk(t *testing.T) {
	k := mustKeys(t, keygenOutput(newIdentity(t)))
	sealed := seal(t, k, randomBytes(t, 300*chunkSize)) // past the counter's first byte
	allocated := func() uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r, err := k.Decrypt(bytes.NewReader(sealed))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != 300*chunkSize {
			t.Fatalf("read %d bytes, %v", n, err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	allocated()
	// one chunk buffer, the header's reading and the key: well under
	// 2 chunks for 300 chunks read
	if got := allocated(); got > 2*sealedChunk {
		t.Errorf("reading 300 chunks allocated %d bytes, want at most %d", got, 2*sealedChunk)
	}
}

// BenchmarkDecrypt reads 64 MiB through age's reader and through ours, in
// the same run: throughput (b.SetBytes) and bytes allocated per op.
// go test -run '^$' -bench Decrypt -benchmem ./backup/crypt
func BenchmarkDecrypt(b *testing.B) {
	id := newIdentity(b)
	k := mustKeys(b, keygenOutput(id))
	plain := make([]byte, 64<<20)
	sealed := seal(b, k, plain)
	for _, v := range []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{"age.Decrypt", func(r io.Reader) (io.Reader, error) { return age.Decrypt(r, id) }},
		{"Keys.Decrypt", k.Decrypt},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				r, err := v.open(bytes.NewReader(sealed))
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, r); err != nil || n != int64(len(plain)) {
					b.Fatalf("read %d bytes, %v", n, err)
				}
			}
		})
	}
}
