package sentinel

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/autopilotpattern/redis-autopilot/etc"
)

// RepairConf makes the sentinel.conf at path valid again after Sentinel
// rewrote it: Redis 7.0 writes `sentinel auth-pass <name> <password>`
// with the password as is, unquoted, so a password with a space, a quote
// or a newline gives a file the next redis-sentinel refuses ("FATAL
// CONFIG FILE ERROR", echoing the line). Every such line holding password
// is written back quoted; the rest of the file is kept byte for byte. It
// reports whether it changed the file. Call it while that sentinel is
// stopped, before every start (a supervisor's BeforeStart), since the
// sentinel rewrites the file at start and on every change it learns.
func RepairConf(path, masterName, password string) (bool, error) {
	if password == "" {
		return false, nil
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("repair sentinel.conf: %w", err)
	}
	fixed := repairAuthPass(old, masterName, password)
	if bytes.Equal(fixed, old) {
		return false, nil
	}
	err = etc.WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(fixed)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("repair sentinel.conf: %w", err)
	}
	return true, nil
}

// repairAuthPass quotes every unquoted auth-pass line of masterName that
// holds password, whole lines only (at the start of the file or after a
// newline, up to a newline or the end).
func repairAuthPass(conf []byte, masterName, password string) []byte {
	raw := []byte("sentinel auth-pass " + masterName + " " + password)
	quoted := []byte("sentinel auth-pass " + masterName + " " + etc.Quote(password))
	var out bytes.Buffer
	for rest := conf; len(rest) > 0; {
		i := bytes.Index(rest, raw)
		end := i + len(raw)
		if i < 0 {
			out.Write(rest)
			break
		}
		lineStart := i == 0 && (out.Len() == 0 || out.Bytes()[out.Len()-1] == '\n') || i > 0 && rest[i-1] == '\n'
		lineEnd := end == len(rest) || rest[end] == '\n' || rest[end] == '\r'
		out.Write(rest[:i])
		if lineStart && lineEnd {
			out.Write(quoted)
		} else {
			out.Write(raw)
		}
		rest = rest[end:]
	}
	return out.Bytes()
}
