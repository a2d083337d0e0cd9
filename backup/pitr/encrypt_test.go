package pitr

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestShipEncrypted ships a chain with an age key: no stored object holds a
// written value in the clear, the chain restores with the key, and without
// the key the restore is refused and leaves the data directory empty.
func TestShipEncrypted(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := crypt.ParseKeys(id.String())
	if err != nil {
		t.Fatal(err)
	}
	secret := func() string {
		b := make([]byte, 16)
		rand.Read(b)
		return hex.EncodeToString(b)
	}
	inBase, inTail := secret(), secret()
	sup := startSup(t)
	r := startAOFRedis(t)
	ctx := context.Background()
	must(t, r.Client.Set(ctx, "in-base", inBase, 0).Err())
	root := harness.TempDir(t, "store-")
	sh, cs, stop := startShipperTo(t, root, keys, r, ShipperOptions{})
	nextSecond(t) // the tail's #TS is then after the base's second
	must(t, r.Client.Set(ctx, "in-tail", inTail, 0).Err())
	waitShipped(t, sh, time.Now().Unix())
	stop()

	sealed := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range []string{inBase, inTail, id.String()} {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds %q in the clear", path, v)
			}
		}
		if strings.HasSuffix(path, ".age") {
			sealed++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sealed < 2 {
		t.Fatalf("%d .age objects in the store, want the base and a segment at least", sealed)
	}

	chains, err := cs.Chains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Choose(chains, Latest)
	if err != nil {
		t.Fatal(err)
	}
	got := restoreAndStart(t, sup, cs, p)
	for k, want := range map[string]string{"in-base": inBase, "in-tail": inTail} {
		if v, err := got.Client.Get(ctx, k).Result(); err != nil || v != want {
			t.Fatalf("restored %s = %q, %v; want %q", k, v, err, want)
		}
	}

	st, err := dir.New(dir.Options{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	keyless, err := NewChainStore(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := harness.TempDir(t, "pitr-nokey-")
	err = Restore(ctx, RestoreOptions{Source: keyless, DataDir: data, Sup: sup}, p)
	if err == nil || !strings.Contains(err.Error(), "BACKUP_ENCRYPTION_KEY") {
		t.Fatalf("restore without the key: %v; want a refusal naming BACKUP_ENCRYPTION_KEY", err)
	}
	if left, _ := os.ReadDir(data); len(left) != 0 {
		t.Fatalf("the refused restore left %d entries in the data directory", len(left))
	}
}
