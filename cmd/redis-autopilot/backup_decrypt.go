package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/config"
)

// errTerminalOut: decrypt writes binary RDB data, not for a terminal.
var errTerminalOut = errors.New("standard output is a terminal: redirect it to a file, e.g. `redis-autopilot backup decrypt NAME > dump.rdb`")

// backupDecrypt writes backup NAME, decrypted and decompressed, to
// stdout: a person can read a backup without a running cluster, with only
// the store's settings and BACKUP_ENCRYPTION_KEY. On failure what was
// written is incomplete or unchecked, and the message says to discard it.
func backupDecrypt(ctx context.Context, cfg *config.Config, _ hclog.Logger, st store.Store, req backupRequest, stdout, stderr io.Writer) error {
	if isTerminal(stdout) {
		return errTerminalOut
	}
	bw := bufio.NewWriterSize(stdout, store.BufferSize)
	n, err := backup.Decode(ctx, st, req.Name, cfg.BackupEncryption, bw)
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write the RDB: %w", ferr)
	}
	if err != nil {
		if n > 0 {
			return fmt.Errorf("%w (the %d bytes written are not a good RDB: discard them)", err, n)
		}
		return err
	}
	fmt.Fprintf(stderr, "wrote %s: %d bytes of RDB\n", req.Name, n)
	return nil
}

// isTerminal reports whether w is a terminal (a tty answers TCGETS;
// /dev/null, also a character device, does not).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
