package devcluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrDirBusy means another dev cluster runs from the same state directory.
var ErrDirBusy = errors.New("another redis-autopilot dev uses this state directory")

// state is the prepared state directory: locked, node directories empty,
// log files open.
type state struct {
	lock  *os.File
	files map[string]*os.File // by child name: consul, node1, ...
	dev   *os.File
}

// prepare creates and locks the state directory, empties every node
// directory (the Consul dev agent starts with an empty catalog, so old
// data would only confuse the new cluster) and opens the log files.
func prepare(l Layout) (*state, error) {
	if err := os.MkdirAll(l.LogDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", l.Dir, err)
	}
	st := &state{files: map[string]*os.File{}}
	lock, err := lockDir(l.Dir)
	if err != nil {
		return nil, err
	}
	st.lock = lock
	for i := 1; i <= MaxNodes; i++ {
		if err := os.RemoveAll(filepath.Join(l.Dir, "node"+strconv.Itoa(i))); err != nil {
			st.close()
			return nil, fmt.Errorf("empty the node directories: %w", err)
		}
	}
	dirs := []string{l.BackupDir}
	for _, n := range l.Nodes {
		dirs = append(dirs, n.DataDir, n.ConfigDir)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			st.close()
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	logs := map[string]string{"dev": l.DevLog, "consul": l.ConsulLog}
	for _, n := range l.Nodes {
		logs[n.Name] = n.LogPath
	}
	for name, path := range logs {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("open log %s: %w", path, err)
		}
		st.files[name] = f
	}
	st.dev = st.files["dev"]
	return st, nil
}

// lockDir takes an exclusive lock on dir/dev.lock and writes our pid in it.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "dev.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid, _ := io.ReadAll(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (pid %s); stop it, or pass another --dir", ErrDirBusy, dir, strings.TrimSpace(string(pid)))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return f, nil
}

// writers returns the log files of the children, for childLogs.
func (s *state) writers() map[string]io.Writer {
	out := map[string]io.Writer{}
	for name, f := range s.files {
		if name != "dev" {
			out[name] = f
		}
	}
	return out
}

func (s *state) close() {
	for _, f := range s.files {
		f.Close()
	}
	if s.lock != nil {
		s.lock.Close() // releases the lock; the file stays (removing it races with a new locker)
	}
}
