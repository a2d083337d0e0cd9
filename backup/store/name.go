package store

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// SidecarSuffix is appended to a backup's name to name its metadata object.
const SidecarSuffix = ".meta.json"

// EncryptedSuffix ends the name of an encrypted backup
// ("dump-...rdb.zst.age"), as the age tool names its files.
const EncryptedSuffix = ".age"

const nameTime = "20060102150405"

var nameRE = regexp.MustCompile(`^dump-([0-9]{14})\.rdb(\.gz|\.zst)?(\.age)?$`)

// Name returns the backup name for a dump taken at t with the given
// compression ("", "gzip" or "zstd"), in UTC as the shell version wrote it.
func Name(t time.Time, compression string) (string, error) {
	ext, ok := map[string]string{"": "", "gzip": ".gz", "zstd": ".zst"}[compression]
	if !ok {
		return "", fmt.Errorf("name for compression %q: unknown compression", compression)
	}
	return "dump-" + t.UTC().Format(nameTime) + ".rdb" + ext, nil
}

// ParseName checks a backup name and returns the time it encodes and its
// compression ("", "gzip" or "zstd"); Encrypted says whether it is
// encrypted too. Errors wrap ErrInvalidName.
func ParseName(name string) (time.Time, string, error) {
	m := nameRE.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, "", fmt.Errorf("%q: %w", name, ErrInvalidName)
	}
	t, err := time.Parse(nameTime, m[1])
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%q: %w", name, ErrInvalidName)
	}
	return t, map[string]string{"": "", ".gz": "gzip", ".zst": "zstd"}[m[2]], nil
}

// ValidName reports whether name is a backup name List would return.
func ValidName(name string) bool {
	_, _, err := ParseName(name)
	return err == nil
}

// Encrypted reports whether name is an encrypted backup's (it ends in
// EncryptedSuffix).
func Encrypted(name string) bool {
	return ValidName(name) && strings.HasSuffix(name, EncryptedSuffix)
}
