package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestLoadEncryption(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	offline, _ := age.GenerateX25519Identity()
	keyFile := tempFile(t, "# created by age-keygen\n# public key: "+id.Recipient().String()+"\n"+id.String()+"\n")
	t.Run("good", func(t *testing.T) {
		for name, e := range map[string]env{
			"key":      {"BACKUP_ENCRYPTION_KEY": id.String(), "BACKUP_ENCRYPTION_RECIPIENTS": offline.Recipient().String()},
			"key file": {"BACKUP_ENCRYPTION_KEY_FILE": keyFile, "BACKUP_ENCRYPTION_RECIPIENTS": " , " + offline.Recipient().String()},
		} {
			c, err := Load(nil, e.with().lookup)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := c.BackupEncryption.Recipients()
			if len(got) != 2 || got[0] != id.Recipient().String() || got[1] != offline.Recipient().String() {
				t.Fatalf("%s: recipients %v", name, got)
			}
			if s := fmt.Sprintf("%v %+v %#v", c, c.BackupEncryption, c.BackupEncryption); strings.Contains(s, id.String()) {
				t.Fatalf("%s: printing the Config shows the key", name)
			}
		}
		if c, err := Load(nil, env{}.with().lookup); err != nil || c.BackupEncryption != nil {
			t.Fatalf("default: %v, %v; want no encryption", c.BackupEncryption, err)
		}
	})
	bad := func(name string, e env, wantVar, wantIn string) {
		t.Run(name, func(t *testing.T) {
			_, err := Load(nil, e.with().lookup)
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != wantVar || !strings.Contains(err.Error(), wantIn) {
				t.Fatalf("Load = %v; want an error for %s saying %q", err, wantVar, wantIn)
			}
			if strings.Contains(err.Error(), id.String()[20:]) || strings.Contains(err.Error(), "tiny pass") {
				t.Fatalf("the error quotes the key: %v", err)
			}
		})
	}
	bad("short passphrase", env{"BACKUP_ENCRYPTION_KEY": "tiny pass"}, "BACKUP_ENCRYPTION_KEY", "at least 16")
	bad("public key as key", env{"BACKUP_ENCRYPTION_KEY": id.Recipient().String()}, "BACKUP_ENCRYPTION_KEY", "BACKUP_ENCRYPTION_RECIPIENTS")
	bad("broken identity", env{"BACKUP_ENCRYPTION_KEY": id.String()[:40]}, "BACKUP_ENCRYPTION_KEY", "line 1: is not a valid age identity")
	bad("both key and file", env{"BACKUP_ENCRYPTION_KEY": id.String(), "BACKUP_ENCRYPTION_KEY_FILE": keyFile}, "BACKUP_ENCRYPTION_KEY_FILE", "not both")
	bad("missing file", env{"BACKUP_ENCRYPTION_KEY_FILE": "/nonexistent/key.txt"}, "BACKUP_ENCRYPTION_KEY_FILE", "no such file")
	bad("bad file", env{"BACKUP_ENCRYPTION_KEY_FILE": tempFile(t, "tiny pass\n")}, "BACKUP_ENCRYPTION_KEY_FILE", "line 1: a passphrase")
	bad("recipients alone", env{"BACKUP_ENCRYPTION_RECIPIENTS": offline.Recipient().String()}, "BACKUP_ENCRYPTION_RECIPIENTS", "needs BACKUP_ENCRYPTION_KEY")
	bad("recipients with passphrase", env{"BACKUP_ENCRYPTION_KEY": "a long enough passphrase", "BACKUP_ENCRYPTION_RECIPIENTS": offline.Recipient().String()},
		"BACKUP_ENCRYPTION_RECIPIENTS", "passphrase")
	bad("secret as recipient", env{"BACKUP_ENCRYPTION_KEY": offline.String(), "BACKUP_ENCRYPTION_RECIPIENTS": id.String()},
		"BACKUP_ENCRYPTION_RECIPIENTS", "is an age identity")
}
