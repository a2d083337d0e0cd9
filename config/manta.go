package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// parseKeyID normalises a key fingerprint: MD5 colon hex (optionally
// "MD5:"-prefixed) becomes lowercase colon hex; "SHA256:<base64>" stays,
// without base64 padding.
func parseKeyID(v string) (string, error) {
	const reason = `must be a key fingerprint: MD5 colon hex (aa:bb:..., optionally "MD5:"-prefixed) or SHA256:<base64>`
	if b64, ok := strings.CutPrefix(v, "SHA256:"); ok {
		b64 = strings.TrimRight(b64, "=")
		if len(b64) != 43 {
			return "", errors.New(reason)
		}
		return "SHA256:" + b64, nil
	}
	md5 := strings.ToLower(v)
	md5 = strings.TrimPrefix(md5, "md5:")
	raw, err := hex.DecodeString(strings.ReplaceAll(md5, ":", ""))
	if err != nil || len(raw) != 16 || len(md5) != 47 {
		return "", errors.New(reason)
	}
	return md5, nil
}

// setMantaKey parses MANTA_PRIVATE_KEY ('#' standing for newline, as the
// shell version's setup.sh writes it). Its errors never quote the key.
func setMantaKey(c *Config, v string) error {
	raw, err := ssh.ParseRawPrivateKey([]byte(strings.ReplaceAll(v, "#", "\n")))
	if err != nil {
		return fmt.Errorf("does not parse as a PEM private key (newlines may be written as #): %w", err)
	}
	var key crypto.Signer
	switch k := raw.(type) {
	case *rsa.PrivateKey:
		key = k
	case *ecdsa.PrivateKey:
		key = k
	default:
		return fmt.Errorf("is a %T; Manta signing needs an RSA or ECDSA key", raw)
	}
	md5, _, err := fingerprints(key)
	if err != nil {
		return err
	}
	c.MantaKey, c.MantaKeyMD5 = key, md5
	return nil
}

// fingerprints returns the MD5 (colon hex) and SHA256 ("SHA256:...")
// fingerprints of key's public half.
func fingerprints(key crypto.Signer) (md5, sha256 string, err error) {
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return "", "", fmt.Errorf("has no usable public key: %w", err)
	}
	return ssh.FingerprintLegacyMD5(pub), ssh.FingerprintSHA256(pub), nil
}

// validateManta checks that Manta is configured completely or not at all,
// not together with BACKUP_DIR, and that MANTA_KEY_ID names MANTA_PRIVATE_KEY.
func (c *Config) validateManta() error {
	required := []struct {
		env string
		set bool
	}{{"MANTA_USER", c.MantaUser != ""}, {"MANTA_KEY_ID", c.MantaKeyID != ""}, {"MANTA_PRIVATE_KEY", c.MantaKey != nil}}
	var given string
	for _, r := range required {
		if r.set && given == "" {
			given = r.env
		}
	}
	if given == "" {
		return c.validateNoManta()
	}
	for _, r := range required {
		if !r.set {
			return &Error{Var: r.env, Reason: "must be set when " + given + " is set (Manta needs MANTA_USER, MANTA_KEY_ID and MANTA_PRIVATE_KEY)"}
		}
	}
	if c.BackupDir != "" {
		return &Error{Var: "BACKUP_DIR", Value: c.BackupDir, Reason: "set either BACKUP_DIR or MANTA_*, not both"}
	}
	md5, sha, err := fingerprints(c.MantaKey)
	if err != nil {
		return &Error{Var: "MANTA_PRIVATE_KEY", Reason: err.Error(), Err: err}
	}
	if c.MantaKeyID != md5 && c.MantaKeyID != sha {
		return &Error{Var: "MANTA_KEY_ID", Value: c.MantaKeyID,
			Reason: fmt.Sprintf("does not match MANTA_PRIVATE_KEY, whose fingerprint is %s (MD5 %s)", sha, md5)}
	}
	return nil
}

// validateNoManta rejects optional Manta settings given without Manta,
// which would otherwise be silently ignored.
func (c *Config) validateNoManta() error {
	for _, o := range []struct{ env, val string }{
		{"MANTA_SUBUSER", c.MantaSubuser}, {"MANTA_ROLE", c.MantaRole}, {"MANTA_BUCKET", c.MantaBucket},
	} {
		if o.val != "" {
			return &Error{Var: o.env, Value: o.val,
				Reason: "is set but Manta is not configured (MANTA_USER, MANTA_KEY_ID, MANTA_PRIVATE_KEY)"}
		}
	}
	return nil
}
