package dir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// maxSidecar bounds a sidecar read: ours are a few hundred bytes, and a
// sidecar that is (or links to) something endless must not be read into
// memory whole.
const maxSidecar = 64 << 10

// ErrNotRegular is wrapped when a backup or sidecar in the directory is a
// symbolic link, a FIFO, a device or a directory: it is never opened
// through, read from or listed.
var ErrNotRegular = errors.New("not a regular file")

var errSidecarSize = fmt.Errorf("sidecar larger than %d KiB", maxSidecar>>10)

// openRegular opens path for reading without following a symbolic link
// and without blocking on a FIFO, and returns it only when it is a
// regular file.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENXIO) { // a symlink; a socket
		fi, lerr := os.Lstat(path)
		if lerr == nil {
			err = notRegular(path, fi.Mode())
		}
	}
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(path, fi.Mode())
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

func notRegular(path string, mode fs.FileMode) error {
	return fmt.Errorf("%s is a %s: %w; remove it or replace it with the file itself", path, kind(mode), ErrNotRegular)
}

func kind(mode fs.FileMode) string {
	switch t := mode.Type(); {
	case t&fs.ModeSymlink != 0:
		return "symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "FIFO"
	case t&fs.ModeDir != 0:
		return "directory"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeDevice != 0:
		return "device"
	default:
		return "special file (" + t.String() + ")"
	}
}

// readSidecar reads a sidecar of at most maxSidecar bytes.
func readSidecar(path string) ([]byte, error) {
	f, _, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSidecar+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxSidecar {
		return nil, fmt.Errorf("%s: %w; it is not a sidecar this program wrote", path, errSidecarSize)
	}
	return b, nil
}
