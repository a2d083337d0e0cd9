package cluster

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

var encryptedName = regexp.MustCompile(`dump-[0-9]{14}\.rdb\.zst\.age`)

// canary is a value written to redis that the store's bytes must not hold.
const canary = "encrypted-canary-value-5d1e"

// encryptedStore is a store for the round trip: the environment that
// selects it, and every byte it holds.
type encryptedStore struct {
	env   []string
	bytes func() []byte
}

// dirBytes reads every file under root.
func dirBytes(t *testing.T, root string) []byte {
	t.Helper()
	var all bytes.Buffer
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all.Bytes()
}

func mantaBackups(t *testing.T) encryptedStore {
	t.Helper()
	srv := mantaserver.New(t, mantaserver.Options{})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := srv.AddKey(srv.Account, "", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemKey := strings.ReplaceAll(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "\n", "#")
	return encryptedStore{
		env: []string{"MANTA_URL=" + srv.URL, "MANTA_USER=" + srv.Account, "MANTA_KEY_ID=" + fp, "MANTA_PRIVATE_KEY=" + pemKey},
		bytes: func() []byte {
			var all []byte
			for _, o := range srv.Objects() {
				b, ok := srv.Object(o)
				if !ok {
					t.Fatalf("object %s vanished", o)
				}
				all = append(all, b...)
			}
			return all
		},
	}
}

func s3Backups(t *testing.T) encryptedStore {
	t.Helper()
	s := harness.StartS3(t, "backups")
	return encryptedStore{
		env: []string{"S3_URL=s3://backups/redis", "S3_ENDPOINT=" + s.Endpoint, "S3_REGION=" + s.Region,
			"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey},
		bytes: func() []byte { return dirBytes(t, s.Root) },
	}
}

// TestEncryptedBackupRoundTripThroughTheBinary: with BACKUP_ENCRYPTION_KEY
// set, `backup now` stores a .rdb.zst.age backup whose bytes hold neither
// a value from redis nor the key; then every node and Consul are lost and
// a new node with the key restores it. Directory store with an X25519
// key file (age-keygen's, and an extra recipient), Manta with a
// passphrase, S3 with an X25519 key. In the directory case a node
// without the key refuses the backup (no empty master) and a node's
// children never see the key.
func TestEncryptedBackupRoundTripThroughTheBinary(t *testing.T) {
	t.Parallel()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	offline, _ := age.GenerateX25519Identity()
	keyFile := filepath.Join(harness.TempDir(t, "key-"), "backup-key.txt")
	keyText := fmt.Sprintf("# created: 2026-11-28T09:00:00Z\n# public key: %s\n%s\n", id.Recipient(), id)
	if err := os.WriteFile(keyFile, []byte(keyText), 0o600); err != nil {
		t.Fatal(err)
	}
	const passphrase = "correct horse battery staple, encrypted"
	for name, c := range map[string]struct {
		store  func(t *testing.T) encryptedStore
		keyEnv []string
		secret string
	}{
		"dir": {func(t *testing.T) encryptedStore {
			d := harness.TempDir(t, "backups-")
			return encryptedStore{env: []string{"BACKUP_DIR=" + d}, bytes: func() []byte { return dirBytes(t, d) }}
		}, []string{"BACKUP_ENCRYPTION_KEY_FILE=" + keyFile, "BACKUP_ENCRYPTION_RECIPIENTS=" + offline.Recipient().String()}, id.String()},
		"manta": {mantaBackups, []string{"BACKUP_ENCRYPTION_KEY=" + passphrase}, passphrase},
		"s3":    {s3Backups, []string{"BACKUP_ENCRYPTION_KEY=" + id.String()}, id.String()},
	} {
		t.Run(name, func(t *testing.T) {
			st := c.store(t)
			env := append(append([]string{}, st.env...), c.keyEnv...)
			roundTrip(t, st, env, c.secret, name == "dir")
		})
	}
}

func roundTrip(t *testing.T, st encryptedStore, env []string, secret string, extra bool) {
	c := nodes.New(t, env...)
	a := c.AddNode().Start()
	c.WaitTopology(60*time.Second, a.Addr(), 0, 1)
	ctx := nodes.Ctx(t, 2*time.Minute)
	want := map[string]string{"canary": canary}
	for i := 0; i < 200; i++ {
		want[fmt.Sprintf("key:%d", i)] = strings.Repeat(fmt.Sprint(i), 1+i%30)
	}
	for k, v := range want {
		if err := a.Client.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	out, code := runCLI(t, a, "backup", "now")
	name := encryptedName.FindString(out)
	if code != 0 || name == "" {
		t.Fatalf("backup now exited %d, want an .rdb.zst.age backup:\n%s", code, out)
	}
	if out, _ := runCLI(t, a, "backup", "list"); !strings.Contains(out, name) || !strings.Contains(out, " age ") {
		t.Fatalf("backup list does not show %s as encrypted:\n%s", name, out)
	}
	stored := st.bytes()
	if len(stored) == 0 || bytes.Contains(stored, []byte(canary)) || bytes.Contains(stored, []byte(secret)) {
		t.Fatalf("the store's %d bytes hold the canary value or the key", len(stored))
	}
	if strings.Contains(a.Log(), secret) || strings.Contains(out, secret) {
		t.Fatal("the key reached the node's log or the command's output")
	}
	if extra {
		childrenHaveNoKey(t, a)
	}

	// Lose the cluster: the node, its data, and Consul.
	a.KillAll()
	if extra {
		refusedWithoutKey(t, env, name)
	}
	c2 := nodes.New(t, env...)
	b := c2.AddNode().Start()
	c2.WaitTopology(90*time.Second, b.Addr(), 0, 1)
	if !strings.Contains(b.Log(), name) {
		t.Errorf("the new node's log does not name the backup it restored:\n%s", b.Proc.Tail(30))
	}
	for k, v := range want {
		if got, err := b.Client.Get(ctx, k).Result(); err != nil || got != v {
			t.Fatalf("%s = %q (%v) after restore, want %q", k, got, err, v)
		}
	}
	if strings.Contains(b.Log(), secret) {
		t.Fatal("the key reached the restoring node's log")
	}
}

// childrenHaveNoKey: the environments of the node's children (redis,
// sentinel) hold no BACKUP_ENCRYPTION_ variable.
func childrenHaveNoKey(t *testing.T, n *nodes.Node) {
	t.Helper()
	kids := nodes.ChildrenOf(n.Proc.Pid())
	if len(kids) == 0 {
		t.Fatal("the node has no children to check")
	}
	for _, pid := range kids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("BACKUP_ENCRYPTION_KEY")) {
			t.Fatalf("child %d has BACKUP_ENCRYPTION_KEY in its environment", pid)
		}
	}
}

// refusedWithoutKey: a new cluster whose node has no key does not come
// up as an empty master: its restore fails naming the backup and the
// recipient, and its data directory gets no data.
func refusedWithoutKey(t *testing.T, env []string, name string) {
	t.Helper()
	var keyless []string
	for _, e := range env {
		if !strings.HasPrefix(e, "BACKUP_ENCRYPTION_") {
			keyless = append(keyless, e)
		}
	}
	c := nodes.New(t, keyless...)
	n := c.AddNode().Start()
	select {
	case <-n.Proc.Done():
	case <-time.After(90 * time.Second):
		t.Fatalf("a node without the key did not give up on the encrypted backup:\n%s", n.Proc.Tail(30))
	}
	log := n.Log()
	if n.Proc.ExitCode() == 0 || !strings.Contains(log, name) || !strings.Contains(log, "cannot decrypt") ||
		!strings.Contains(log, "age1") {
		t.Fatalf("exit %d; want a failure naming %s and its recipient:\n%s", n.Proc.ExitCode(), name, n.Proc.Tail(30))
	}
	if got := c.Instances("redis", false); len(got) != 0 {
		t.Fatalf("a node without the key registered as master: %v", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(n.Dir, "data")); len(entries) != 0 {
		t.Fatalf("the data directory of the refused node holds %s", entries[0].Name())
	}
}
