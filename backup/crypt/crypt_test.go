package crypt

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
)

const testPassphrase = "correct horse battery staple"

func newIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// keygenOutput is what age-keygen prints, comments included.
func keygenOutput(id *age.X25519Identity) string {
	return fmt.Sprintf("# created: 2026-11-28T09:00:00Z\n# public key: %s\n%s\n", id.Recipient(), id)
}

func mustKeys(t testing.TB, text string, extra ...string) *Keys {
	t.Helper()
	k, err := ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	k, err = k.WithRecipients(extra)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seal(t testing.TB, k *Keys, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := k.Encrypt(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(k *Keys, sealed []byte) ([]byte, error) {
	r, err := k.Decrypt(bytes.NewReader(sealed))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	id := newIdentity(t)
	for name, text := range map[string]string{
		"x25519":          keygenOutput(id),
		"passphrase":      testPassphrase + "\n",
		"x25519 in a row": id.String(),
	} {
		t.Run(name, func(t *testing.T) {
			k := mustKeys(t, text)
			plain := randomBytes(t, 300<<10) // several 64 KiB chunks
			sealed := seal(t, k, plain)
			if bytes.Contains(sealed, plain[:64]) {
				t.Fatal("plaintext in the ciphertext")
			}
			got, err := open(k, sealed)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("decrypt: %v (equal %v)", err, bytes.Equal(got, plain))
			}
		})
	}
}

// The age tool's path: a plain age.Decrypt with the identity (what
// `age -d -i key.txt` runs) reads what Keys encrypted.
func TestAgeToolReadsIt(t *testing.T) {
	id := newIdentity(t)
	sealed := seal(t, mustKeys(t, keygenOutput(id)), []byte("REDIS0011 data"))
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); string(got) != "REDIS0011 data" {
		t.Fatalf("got %q", got)
	}
	pass := seal(t, mustKeys(t, testPassphrase), []byte("x"))
	sid, _ := age.NewScryptIdentity(testPassphrase)
	if _, err := age.Decrypt(bytes.NewReader(pass), sid); err != nil {
		t.Fatalf("age with the passphrase: %v", err)
	}
}

// Rotation: the new key first encrypts; the old one, kept below it,
// still decrypts what it encrypted.
func TestRotation(t *testing.T) {
	old, cur := newIdentity(t), newIdentity(t)
	before := seal(t, mustKeys(t, old.String()), []byte("old backup"))
	rotated := mustKeys(t, keygenOutput(cur)+"# the previous key, until its backups expire\n"+old.String()+"\n"+testPassphrase)
	if got := rotated.Recipients(); len(got) != 1 || got[0] != cur.Recipient().String() {
		t.Fatalf("new backups are for %v, want only the new key", got)
	}
	if b, err := open(rotated, before); err != nil || string(b) != "old backup" {
		t.Fatalf("old backup after rotation: %q, %v", b, err)
	}
	after := seal(t, rotated, []byte("new backup"))
	if _, err := open(mustKeys(t, old.String()), after); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the old key alone opens a new backup: %v", err)
	}
	passBackup := seal(t, mustKeys(t, testPassphrase), []byte("pass"))
	if b, err := open(rotated, passBackup); err != nil || string(b) != "pass" {
		t.Fatalf("passphrase backup with the key list: %q, %v", b, err)
	}
}

func TestExtraRecipientDecrypts(t *testing.T) {
	node, offline := newIdentity(t), newIdentity(t)
	k := mustKeys(t, node.String(), offline.Recipient().String(), node.Recipient().String())
	if got := k.Recipients(); len(got) != 2 {
		t.Fatalf("recipients %v, want the node's and the offline key (no duplicate)", got)
	}
	sealed := seal(t, k, []byte("both"))
	for _, id := range []*age.X25519Identity{node, offline} {
		if b, err := open(mustKeys(t, id.String()), sealed); err != nil || string(b) != "both" {
			t.Fatalf("%s: %q, %v", id.Recipient(), b, err)
		}
	}
}

func TestWrongAndNoKey(t *testing.T) {
	a, b := newIdentity(t), newIdentity(t)
	sealed := seal(t, mustKeys(t, a.String()), []byte("secret"))
	_, err := open(mustKeys(t, b.String()+"\n"+testPassphrase), sealed)
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), b.Recipient().String()) {
		t.Fatalf("wrong key: %v; want ErrWrongKey naming the key tried", err)
	}
	if strings.Contains(err.Error(), b.String()) || strings.Contains(err.Error(), testPassphrase) {
		t.Fatal("the error holds a secret")
	}
	if _, err := open(nil, sealed); !errors.Is(err, ErrNoKey) {
		t.Fatalf("no key: %v", err)
	}
	pass := seal(t, mustKeys(t, testPassphrase), []byte("secret"))
	if _, err := open(mustKeys(t, "another passphrase, quite long"), pass); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

// Truncation anywhere and a flipped byte anywhere are refused, never a
// short or altered plaintext.
func TestDamageIsRefused(t *testing.T) {
	for _, text := range []string{newIdentity(t).String(), testPassphrase} {
		k := mustKeys(t, text)
		sealed := seal(t, k, randomBytes(t, 200<<10))
		cuts := []int{len(sealed) - 1, len(sealed) - 17, len(sealed) / 2, 64 << 10, 100, 20, 0}
		flips := []int{5, 40, len(sealed) / 3, len(sealed) - 1}
		if text == testPassphrase { // scrypt is slow; the payload is the same
			cuts, flips = cuts[:1], flips[len(flips)-1:]
		}
		for _, n := range cuts {
			if _, err := open(k, sealed[:n]); !errors.Is(err, ErrCorrupt) {
				t.Errorf("truncated to %d of %d bytes: %v, want ErrCorrupt", n, len(sealed), err)
			}
		}
		for _, at := range flips {
			bad := bytes.Clone(sealed)
			bad[at] ^= 0x01
			if _, err := open(k, bad); err == nil {
				t.Errorf("flipped bit at %d of %d accepted", at, len(sealed))
			}
		}
	}
}

func TestParseKeysErrors(t *testing.T) {
	id := newIdentity(t)
	secret := id.String()
	for name, c := range map[string]struct{ text, want string }{
		"empty":         {"# nothing\n\n", "holds no key"},
		"public key":    {id.Recipient().String(), "BACKUP_ENCRYPTION_RECIPIENTS"},
		"short":         {"hunter2", "at least 16"},
		"bad identity":  {secret[:len(secret)-3] + "AAA", "not a valid age identity"},
		"plugin":        {"AGE-PLUGIN-YUBIKEY-1QQQ", "plugin"},
		"second broken": {secret + "\nAGE-SECRET-KEY-1NOPE", "line 2"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseKeys(c.text)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseKeys: %v; want an error saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), secret[16:]) || strings.Contains(err.Error(), "hunter2") {
				t.Fatal("the error quotes the key")
			}
		})
	}
}

func TestWithRecipientsErrors(t *testing.T) {
	id := newIdentity(t)
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		keys  *Keys
		extra []string
		want  string
	}{
		"no key":           {nil, []string{id.Recipient().String()}, "needs BACKUP_ENCRYPTION_KEY"},
		"passphrase":       {mustKeys(t, testPassphrase), []string{id.Recipient().String()}, "passphrase"},
		"not a recipient":  {mustKeys(t, id.String()), []string{"ssh-ed25519 AAAA"}, "recipient 1: is not an age recipient"},
		"a secret":         {mustKeys(t, id.String()), []string{id.Recipient().String(), id.String()}, "recipient 2: is an age identity"},
		"pq after classic": {mustKeys(t, id.String()), []string{pq.Recipient().String()}, "cannot be used together"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.keys.WithRecipients(c.extra)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("WithRecipients: %v; want %q", err, c.want)
			}
			if strings.Contains(err.Error(), id.String()) {
				t.Fatal("the error quotes the secret key")
			}
		})
	}
}

func TestPostQuantumKeys(t *testing.T) {
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	pq2, _ := age.GenerateHybridIdentity()
	k := mustKeys(t, pq.String(), pq2.Recipient().String())
	sealed := seal(t, k, []byte("pq"))
	if b, err := open(mustKeys(t, pq2.String()), sealed); err != nil || string(b) != "pq" {
		t.Fatalf("%q, %v", b, err)
	}
}

// Printing Keys in any way shows only public keys.
func TestKeysNeverPrintSecrets(t *testing.T) {
	id := newIdentity(t)
	k := mustKeys(t, id.String()+"\n"+testPassphrase)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k),
		fmt.Sprintf("%+v", struct{ K *Keys }{k}), strings.Join(k.Identities(), " ")} {
		if strings.Contains(s, id.String()) || strings.Contains(s, testPassphrase) ||
			strings.Contains(s, "AGE-SECRET") {
			t.Fatalf("printed a secret: %s", s)
		}
	}
	if !strings.Contains(k.String(), id.Recipient().String()) {
		t.Fatalf("String %q does not name the recipient", k.String())
	}
}
