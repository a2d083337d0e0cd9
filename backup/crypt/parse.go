package crypt

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
)

// ParseKeys reads BACKUP_ENCRYPTION_KEY: one key a line, each an age
// identity (AGE-SECRET-KEY-1..., or AGE-SECRET-KEY-PQ-1..., as age-keygen
// prints them) or a passphrase of at least 16 characters. Empty lines and
// lines starting with # are skipped (age-keygen's output pastes as is);
// spaces around a line are dropped. The first key encrypts new backups;
// all of them decrypt. Errors name the line, never its content.
func ParseKeys(text string) (*Keys, error) {
	k := &Keys{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, r, name, err := parseKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if len(k.ids) == 0 {
			k.recipients, k.recNames = []age.Recipient{r}, []string{name}
		}
		k.ids, k.idNames = append(k.ids, id), append(k.idNames, name)
	}
	if len(k.ids) == 0 {
		return nil, errors.New("holds no key (only empty or # lines)")
	}
	return k, nil
}

// parseKey parses one line: an identity, else a passphrase. It returns
// the identity, the recipient it decrypts for and that recipient's name.
func parseKey(line string) (age.Identity, age.Recipient, string, error) {
	upper := strings.ToUpper(line)
	switch {
	case strings.HasPrefix(upper, "AGE-PLUGIN-"):
		return nil, nil, "", errors.New("age plugin identities are not supported (they run other programs); use age-keygen's keys")
	case strings.HasPrefix(upper, "AGE-SECRET-KEY-"):
		return parseIdentity(line)
	case strings.HasPrefix(strings.ToLower(line), "age1"):
		return nil, nil, "", errors.New("is an age recipient (a public key): BACKUP_ENCRYPTION_KEY needs the identity " +
			"(AGE-SECRET-KEY-1...); recipients go in BACKUP_ENCRYPTION_RECIPIENTS")
	case utf8.RuneCountInString(line) < minPassphrase:
		return nil, nil, "", fmt.Errorf("a passphrase must be at least %d characters (or use an age identity from age-keygen)", minPassphrase)
	}
	id, err := age.NewScryptIdentity(line)
	if err != nil {
		return nil, nil, "", errors.New("unusable passphrase")
	}
	id.SetMaxWorkFactor(scryptMaxWorkFactor)
	r, err := age.NewScryptRecipient(line)
	if err != nil {
		return nil, nil, "", errors.New("unusable passphrase")
	}
	r.SetWorkFactor(scryptWorkFactor)
	return id, r, PassphraseRecipient, nil
}

// parseIdentity parses an X25519 or hybrid identity.
func parseIdentity(line string) (age.Identity, age.Recipient, string, error) {
	ids, err := age.ParseIdentities(strings.NewReader(line))
	if err == nil && len(ids) == 1 {
		switch id := ids[0].(type) {
		case *age.X25519Identity:
			return id, id.Recipient(), id.Recipient().String(), nil
		case *age.HybridIdentity:
			return id, id.Recipient(), id.Recipient().String(), nil
		}
	}
	return nil, nil, "", errors.New("is not a valid age identity (AGE-SECRET-KEY-1... as age-keygen prints it)")
}

// WithRecipients returns k encrypting for the extra recipients too
// (BACKUP_ENCRYPTION_RECIPIENTS: age1... public keys). A passphrase
// cannot be combined with recipients (age makes a passphrase the file's
// only recipient), nor post-quantum with classic ones.
func (k *Keys) WithRecipients(extra []string) (*Keys, error) {
	if len(extra) == 0 {
		return k, nil
	}
	if k == nil {
		return nil, errors.New("BACKUP_ENCRYPTION_RECIPIENTS needs BACKUP_ENCRYPTION_KEY: the node must be able to read back what it encrypts")
	}
	if k.recNames[0] == PassphraseRecipient {
		return nil, errors.New("BACKUP_ENCRYPTION_RECIPIENTS cannot be used when the first key in BACKUP_ENCRYPTION_KEY is a passphrase " +
			"(age encrypts a file to a passphrase alone): use an age identity from age-keygen as the first key")
	}
	out := &Keys{ids: k.ids, idNames: k.idNames,
		recipients: append([]age.Recipient(nil), k.recipients...), recNames: append([]string(nil), k.recNames...)}
	for i, s := range extra {
		r, err := ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("recipient %d: %w", i+1, err)
		}
		if !slices.Contains(out.recNames, s) {
			out.recipients, out.recNames = append(out.recipients, r), append(out.recNames, s)
		}
	}
	// age refuses some mixes (post-quantum with classic) only when it
	// encrypts: find out now, not at the first backup.
	w, err := age.Encrypt(io.Discard, out.recipients...)
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("these recipients cannot be used together: %w", err)
	}
	return out, nil
}

// ParseRecipient parses one public age recipient (age1..., age1pq1...).
func ParseRecipient(s string) (age.Recipient, error) {
	rs, err := age.ParseRecipients(strings.NewReader(s))
	if err != nil || len(rs) != 1 || strings.Contains(s, "\n") {
		if strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-") {
			return nil, errors.New("is an age identity, a secret key: give its public key instead (age-keygen -y prints it), age1...")
		}
		// Not quoted: a secret pasted in the wrong place must not be printed.
		return nil, errors.New("is not an age recipient (age1... as age-keygen prints it)")
	}
	return rs[0], nil
}
