package config

import (
	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
)

// setBackupKey parses BACKUP_ENCRYPTION_KEY (or the content of the file
// BACKUP_ENCRYPTION_KEY_FILE names, as for every secret). Its errors name
// a line, never its content.
func setBackupKey(c *Config, v string) error {
	k, err := crypt.ParseKeys(v)
	if err != nil {
		return err
	}
	c.BackupEncryption = k
	return nil
}

// validateEncryption adds BACKUP_ENCRYPTION_RECIPIENTS to the keys.
func (c *Config) validateEncryption() error {
	k, err := c.BackupEncryption.WithRecipients(c.BackupEncryptionRecipients)
	if err != nil {
		return &Error{Var: "BACKUP_ENCRYPTION_RECIPIENTS", Reason: err.Error(), Err: err}
	}
	c.BackupEncryption = k
	return nil
}
