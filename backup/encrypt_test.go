package backup

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/hashicorp/go-hclog"
)

const (
	testPassphrase = "a long backup passphrase for tests"
	// knownValue is written to redis; it must not be found in the store.
	knownValue = "the-plaintext-canary-7f3a9c"
)

func testKeys(t testing.TB, text string) *crypt.Keys {
	t.Helper()
	k, err := crypt.ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// storedBytes returns every object the store holds, data and sidecar.
func storedBytes(t *testing.T, s store.Store) []byte {
	t.Helper()
	var all bytes.Buffer
	for _, n := range names(t, s) {
		rc, err := s.Get(testCtx(t, time.Minute), n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(&all, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		info, err := s.Stat(testCtx(t, time.Minute), n)
		if err != nil || info.Meta == nil {
			t.Fatalf("stat %s: %v", n, err)
		}
		all.Write(store.EncodeMeta(*info.Meta))
	}
	return all.Bytes()
}

// An encrypted backup round-trips through each store with an X25519
// identity and with a passphrase: its name ends in .age, its sidecar
// names the recipients, and neither the stored bytes nor the log hold a
// value from the dataset or the key.
func TestEncryptedRoundTrip(t *testing.T) {
	id := newIdentity(t)
	for name, c := range map[string]struct {
		key, recipient string
		manta          bool
	}{
		"dir/x25519":     {id.String(), id.Recipient().String(), false},
		"dir/passphrase": {testPassphrase, crypt.PassphraseRecipient, false},
		"manta/x25519":   {id.String(), id.Recipient().String(), true},
	} {
		t.Run(name, func(t *testing.T) {
			log, sink := testLog(t, c.key, knownValue)
			var s store.Store = dirStore(t)
			if c.manta {
				s, _, _ = mantaStore(t, log, sink)
			}
			r, rc := startRedis(t)
			fill(t, r.Client, 2000)
			if err := r.Client.Set(testCtx(t, 5*time.Second), "s:canary", knownValue, 0).Err(); err != nil {
				t.Fatal(err)
			}
			want := dataset(t, r.Client)
			keys := testKeys(t, c.key)
			info, err := Backup(testCtx(t, 2*time.Minute), Options{Redis: rc, DataDir: r.Dir, Store: s,
				Compression: "zstd", Encryption: keys, Log: log})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(info.Name, ".rdb.zst.age") || info.Meta.Encryption != "age" || info.Meta.Recipients != c.recipient {
				t.Fatalf("backup %s, sidecar %+v; want .rdb.zst.age for %s", info.Name, info.Meta, c.recipient)
			}
			stored := storedBytes(t, s)
			for _, secret := range []string{knownValue, c.key, "REDIS00"} {
				if bytes.Contains(stored, []byte(secret)) {
					t.Fatalf("the store's bytes hold %.12q...", secret)
				}
			}
			r.Stop()
			o := restoreOpts(t, s, log, nil)
			o.KV, o.Encryption = mapKV{"service/redis/last-backup": info.Name}, keys
			got, err := Restore(testCtx(t, 2*time.Minute), o)
			if err != nil || got != info.Name {
				t.Fatalf("Restore = %q, %v; want %s", got, err, info.Name)
			}
			equalData(t, want, startRestored(t, o.DataDir))
		})
	}
}

// encryptedFixture is a dir store holding an older unencrypted backup
// and the newer encrypted one Consul names, made with id.
type encryptedFixture struct {
	path, older, newer string
	id                 *age.X25519Identity
	log                hclog.Logger
}

func newEncryptedFixture(t *testing.T) encryptedFixture {
	t.Helper()
	log, _ := testLog(t)
	r, rc := startRedis(t)
	fx := encryptedFixture{path: t.TempDir(), id: newIdentity(t), log: log}
	s := dirStoreAt(t, fx.path)
	fill(t, r.Client, 500)
	t0 := time.Now().UTC().Truncate(time.Second)
	for i, k := range []*crypt.Keys{nil, testKeys(t, fx.id.String())} {
		at := t0.Add(time.Duration(i-1) * time.Hour)
		info, err := Backup(testCtx(t, time.Minute), Options{Redis: rc, DataDir: r.Dir, Store: s,
			Compression: "zstd", Encryption: k, Log: log, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		fx.older, fx.newer = fx.newer, info.Name
	}
	return fx
}

// copyStore copies the fixture's store so each case damages its own.
func (fx encryptedFixture) copyStore(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(fx.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(fx.path, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// rewrite replaces a backup's bytes; with sidecar, the sidecar is made
// to match them (as someone who can write the store could).
func rewrite(t *testing.T, path string, change func([]byte) []byte, sidecar bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = change(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if !sidecar {
		return
	}
	raw, err := os.ReadFile(path + store.SidecarSuffix)
	if err != nil {
		t.Fatal(err)
	}
	m, err := store.DecodeMeta(raw)
	if err != nil {
		t.Fatal(err)
	}
	d := store.NewDigester(bytes.NewReader(b))
	io.Copy(io.Discard, d)
	m.Size, m.SHA256 = 0, ""
	*m, err = d.Complete(*m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+store.SidecarSuffix, store.EncodeMeta(*m), 0o600); err != nil {
		t.Fatal(err)
	}
}

// An encrypted backup is refused, with nothing written to the data
// directory: with no key or the wrong key (ErrKey, naming the backup and
// its recipient; an automatic restore does not fall back to the older
// unencrypted backup), and truncated or with a flipped bit (ErrCorrupt),
// whether or not the sidecar was made to match the damage.
func TestEncryptedRestoreRefusals(t *testing.T) {
	fx := newEncryptedFixture(t)
	sup := startSup(t, fx.log)
	other := newIdentity(t)
	flip := func(at func(n int) int) func([]byte) []byte {
		return func(b []byte) []byte { b[at(len(b))] ^= 0x04; return b }
	}
	cut := func(b []byte) []byte { return b[:len(b)-100] }
	for name, c := range map[string]struct {
		keys     string // "" is none
		named    bool   // restore NAME (no fallback) rather than automatic
		damage   func([]byte) []byte
		sidecar  bool // the sidecar is made to match the damage
		want     error
		messages []string
	}{
		"no key":                 {want: ErrKey, messages: []string{fx.id.Recipient().String(), "no BACKUP_ENCRYPTION_KEY is set", "does not fall back"}},
		"wrong key":              {keys: other.String(), want: ErrKey, messages: []string{fx.id.Recipient().String(), "tried " + other.Recipient().String()}},
		"wrong passphrase named": {keys: testPassphrase, named: true, want: ErrKey, messages: []string{fx.id.Recipient().String()}},
		"truncated":              {keys: fx.id.String(), named: true, damage: cut, want: ErrCorrupt, messages: []string{"truncated?"}},
		"truncated, sidecar too": {keys: fx.id.String(), named: true, damage: cut, sidecar: true, want: ErrCorrupt, messages: []string{"encrypted data is damaged"}},
		"flipped":                {keys: fx.id.String(), named: true, damage: flip(func(n int) int { return n / 2 }), want: ErrCorrupt, messages: []string{"against the sidecar"}},
		"flipped, sidecar too":   {keys: fx.id.String(), named: true, damage: flip(func(n int) int { return n / 2 }), sidecar: true, want: ErrCorrupt, messages: []string{"authenticate"}},
		"flipped header":         {keys: fx.id.String(), named: true, damage: flip(func(int) int { return 60 }), want: ErrCorrupt, messages: []string{"against the sidecar"}},
	} {
		t.Run(name, func(t *testing.T) {
			path := fx.copyStore(t)
			if c.damage != nil {
				rewrite(t, filepath.Join(path, fx.newer), c.damage, c.sidecar)
			}
			o := restoreOpts(t, dirStoreAt(t, path), fx.log, sup)
			o.KV = mapKV{"service/redis/last-backup": fx.newer}
			if c.named {
				o.Name = fx.newer
			}
			if c.keys != "" {
				o.Encryption = testKeys(t, c.keys)
			}
			got, err := Restore(testCtx(t, time.Minute), o)
			if !errors.Is(err, c.want) || got != "" {
				t.Fatalf("Restore = %q, %v; want %v", got, err, c.want)
			}
			if c.want == ErrKey && errors.Is(err, ErrCorrupt) {
				t.Fatalf("a key error is also ErrCorrupt (it would fall back): %v", err)
			}
			for _, m := range append(c.messages, fx.newer) {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error does not say %q: %v", m, err)
				}
			}
			if strings.Contains(err.Error(), fx.older) || strings.Contains(err.Error(), fx.id.String()) {
				t.Errorf("error names the older backup or holds the key: %v", err)
			}
			entries, _ := os.ReadDir(o.DataDir)
			if has, _ := redisnode.HasData(o.DataDir); has || len(entries) != 0 {
				t.Fatalf("the data directory holds %d entries after a refused restore", len(entries))
			}
		})
	}
}
