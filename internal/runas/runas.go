// Package runas is who redis-server and redis-sentinel run as: PID 1
// stays root to reap and to own the directories; its children run as an
// unprivileged user (REDIS_USER, `redis` by default), so that a
// compromised redis cannot read PID 1's environment (/proc/1/environ,
// with the secrets) nor anything else only root may.
package runas

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// User is a resolved user account.
type User struct {
	Name     string
	UID, GID int
	Groups   []uint32 // supplementary groups
}

// Lookup resolves name (a user name or a numeric uid) from the passwd
// and group databases.
func Lookup(name string) (*User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if _, nerr := strconv.Atoi(name); nerr == nil && errors.As(err, &unknown) {
			u, err = user.LookupId(name)
		}
		if err != nil {
			return nil, fmt.Errorf("look up user %q: %w", name, err)
		}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %q has a non-numeric uid %q or gid %q", name, u.Uid, u.Gid)
	}
	r := &User{Name: u.Username, UID: uid, GID: gid}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of user %q: %w", name, err)
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			r.Groups = append(r.Groups, uint32(n))
		}
	}
	return r, nil
}

// Credential is what a child started as u gets; nil for a nil u (the
// supervisor's own user).
func (u *User) Credential() *syscall.Credential {
	if u == nil {
		return nil
	}
	return &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: u.Groups}
}

// String is the name and ids, for logs; "the supervisor's user" for nil.
func (u *User) String() string {
	if u == nil {
		return "the supervisor's user"
	}
	return fmt.Sprintf("%s (uid %d, gid %d)", u.Name, u.UID, u.GID)
}

// CanReach reports why u cannot reach dir (search every existing
// ancestor), or nil when it can. A dir not created yet is reached when its
// existing ancestors are: PID 1 creates and chowns it.
func (u *User) CanReach(dir string) error {
	if u == nil || u.UID == 0 {
		return nil
	}
	for p := filepath.Dir(filepath.Clean(dir)); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil && !u.may(fi, 0o1) {
			return fmt.Errorf("%s cannot enter %s (mode %v, owner uid %d)", u.Name, p, fi.Mode().Perm(), owner(fi))
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// may reports whether u has permission bit (1 search, 2 write, 4 read)
// on fi by its owner, group or other bits.
func (u *User) may(fi fs.FileInfo, bit fs.FileMode) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	m := fi.Mode().Perm()
	switch {
	case int(st.Uid) == u.UID:
		return m&(bit<<6) != 0
	case u.inGroup(st.Gid):
		return m&(bit<<3) != 0
	}
	return m&bit != 0
}

func (u *User) inGroup(gid uint32) bool {
	if int(gid) == u.GID {
		return true
	}
	for _, g := range u.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// PrepareDir creates dir (mode perm) if missing, takes away mode bits
// beyond perm from one that exists (a data directory left 0755 or 0777
// lets others read the data or plant files), and, when u is set, gives
// dir and everything under it to u. Symlinks are not followed: their own
// owner changes, not their target's.
func PrepareDir(dir string, perm fs.FileMode, u *User) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if fi.Mode().Perm()&^perm != 0 {
		if err := os.Chmod(dir, fi.Mode().Perm()&perm); err != nil {
			return fmt.Errorf("tighten %s to %v: %w", dir, perm, err)
		}
	}
	if u == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("give %s to %s: %w", dir, u.Name, err)
		}
		if err := os.Lchown(p, u.UID, u.GID); err != nil {
			return fmt.Errorf("give %s to %s: %w", p, u.Name, err)
		}
		return nil
	})
}

// Own gives one file to u (nil: leaves it).
func Own(path string, u *User) error {
	if u == nil {
		return nil
	}
	if err := os.Lchown(path, u.UID, u.GID); err != nil {
		return fmt.Errorf("give %s to %s: %w", path, u.Name, err)
	}
	return nil
}
