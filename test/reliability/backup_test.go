//go:build reliability

package reliability

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/klauspost/compress/zstd"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/registry"
)

// backupEnv makes the nodes back up into one shared directory store,
// often: a cluster-wide backup about every 20 s.
func backupEnv(dir string) []string {
	return []string{"BACKUP_DIR=" + dir, "BACKUP_INTERVAL=5s", "BACKUP_TTL=20s", "BACKUP_KEEP=5",
		"BACKUP_STALL_TIMEOUT=" + stallTimeout.String()}
}

// stallTimeout is the nodes' BACKUP_STALL_TIMEOUT: a backup whose store
// makes no progress for this long is abandoned.
const stallTimeout = 5 * time.Second

// mountExt4 puts dir on a loop-mounted ext4 image (noatime: reads never
// write), which `fsfreeze` can freeze: the directory store then stalls as
// a remote store that stops answering would.
func mountExt4(t *testing.T, dir, size string) error {
	img := filepath.Join(t.TempDir(), "backups.ext4")
	for _, c := range [][]string{
		{"truncate", "-s", size, img},
		{"mkfs.ext4", "-q", "-F", img},
		{"mount", "-o", "loop,noatime", img, dir},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, strings.TrimSpace(string(out)))
		}
	}
	t.Cleanup(func() {
		exec.Command("fsfreeze", "--unfreeze", dir).Run()
		exec.Command("umount", "-l", dir).Run()
	})
	if out, err := exec.Command("chmod", "0700", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("chmod %s: %v: %s", dir, err, out)
	}
	return nil
}

// backupStoreStalls freezes the backup store's filesystem while a node is
// asked for a backup, for longer than BACKUP_STALL_TIMEOUT: the backup is
// abandoned (last-backup unchanged, the backup lock released), and once
// the store answers again a requested backup completes and verifies.
func backupStoreStalls(s *suite, tr *trial) error {
	// fsfreeze freezes whatever filesystem holds the path: never anything
	// but the store's own image.
	if out, err := exec.Command("mountpoint", "-q", s.backupDir).CombinedOutput(); err != nil {
		return fmt.Errorf("%s is no longer a mount point, refusing to freeze the filesystem beneath it: %v %s", s.backupDir, err, out)
	}
	if out, err := exec.Command("fsfreeze", "--freeze", s.backupDir).CombinedOutput(); err != nil {
		return fmt.Errorf("fsfreeze --freeze %s: %v: %s", s.backupDir, err, out)
	}
	frozen := true
	thaw := func() error {
		if !frozen {
			return nil
		}
		frozen = false
		if out, err := exec.Command("fsfreeze", "--unfreeze", s.backupDir).CombinedOutput(); err != nil {
			return fmt.Errorf("fsfreeze --unfreeze %s: %v: %s", s.backupDir, err, out)
		}
		return nil
	}
	defer thaw()
	// A backup that had written its files just before the freeze still
	// verifies them (reads pass a frozen filesystem) and moves last-backup:
	// the baseline is read once the lock's holder at the freeze let go. A
	// backup that takes the lock later cannot write, so cannot move it.
	held, err := s.backupLockHolder()
	if err != nil {
		return err
	}
	if err := s.wait(stallTimeout+15*time.Second, func() error {
		now, err := s.backupLockHolder()
		if err == nil && held != "" && now == held {
			err = fmt.Errorf("session %s, which held %s when the store froze, still holds it", held, backup.KeyBackupLock)
		}
		return err
	}); err != nil {
		return err
	}
	before := s.readLastBackup()
	n := s.nodes[tr.rng.Intn(len(s.nodes))]
	if err := n.Proc.Signal(syscall.SIGUSR2); err != nil {
		return err
	}
	d := s.hold(tr, stallTimeout+2*time.Second, stallTimeout+8*time.Second)
	if err := thaw(); err != nil {
		return err
	}
	if now := s.readLastBackup(); now != before {
		return fmt.Errorf("last-backup moved from %q to %q while the store was frozen", before, now)
	}
	// The stalled backup must have let go of the lock: a new one completes.
	asked := s.nodes[tr.rng.Intn(len(s.nodes))]
	if err := asked.Proc.Signal(syscall.SIGUSR2); err != nil {
		return err
	}
	err = s.wait(60*time.Second, func() error {
		if now := s.readLastBackup(); now == "" || now == before {
			return fmt.Errorf("no backup completed after the store answered again (last-backup still %q)", before)
		}
		return nil
	})
	tr.note("backup store frozen for %s while %s was asked for a backup; then %s was asked: %s", d.Round(100*time.Millisecond), n.Name, asked.Name, s.readLastBackup())
	return err
}

// backupStoreCorrupt is restoreFromBackup with the newest backup's data
// corrupted in the store after it was verified (bit rot, a bad disk): the
// cluster must come back by itself from the newest backup that verifies,
// and last-backup must stop naming the corrupt one.
func backupStoreCorrupt(s *suite, tr *trial) error {
	return s.restoreAll(tr, true)
}

// checkBackup verifies the backup Consul's last-backup names, each time
// it names a new one: the product's own Verify (sidecar, size, sha256 of a
// full read-back), then, independently, decompressed and given to
// redis-check-rdb.
func (s *suite) checkBackup(f *figures, tr *trial) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kv, _, err := s.c.Consul.Client.KV().Get(registry.KeyLastBackup, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		s.t.Logf("%s #%d: read last-backup: %v", tr.scenario, tr.n, err)
		return
	}
	if kv == nil || strings.TrimSpace(string(kv.Value)) == s.lastBackup {
		return
	}
	name := strings.TrimSpace(string(kv.Value))
	s.lastBackup = name
	f.backupsChecked++
	if err := verifyBackup(ctx, s.backupDir, name); err != nil {
		f.badBackups++
		s.failf("%s #%d (seed %d): last-backup names %s, which fails verification: %v", tr.scenario, tr.n, s.st.seed, name, err)
		return
	}
	tr.note("last-backup %s verified", name)
}

func verifyBackup(ctx context.Context, dirPath, name string) error {
	st, err := dir.New(dir.Options{Dir: dirPath})
	if err != nil {
		return err
	}
	info, err := st.Stat(ctx, name)
	if err != nil {
		return err
	}
	if !info.Good() {
		return fmt.Errorf("no readable sidecar: %v", info.MetaErr)
	}
	if err := backup.Verify(ctx, st, name, info.Meta.Size); err != nil {
		return err
	}
	rdb, err := os.CreateTemp("", "reliability-backup-*.rdb")
	if err != nil {
		return err
	}
	defer os.Remove(rdb.Name())
	defer rdb.Close()
	if err := decompress(ctx, st, name, rdb); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "redis-check-rdb", rdb.Name()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("redis-check-rdb: %v: %s", err, lastLines(string(out), 5))
	}
	return nil
}

func decompress(ctx context.Context, st store.Store, name string, w io.Writer) error {
	rc, err := st.Get(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, compression, err := store.ParseName(name)
	if err != nil {
		return err
	}
	var r io.Reader = rc
	switch compression {
	case "zstd":
		zr, err := zstd.NewReader(rc)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	case "gzip":
		zr, err := gzip.NewReader(rc)
		if err != nil {
			return err
		}
		r = zr
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("decompress %s: %w", filepath.Base(name), err)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// backupStoreReadOnly makes the backup store fail (the shared directory
// remounted read-only: root ignores file modes) while a node is asked for
// a backup (SIGUSR2): the backup fails, and last-backup must keep naming
// a good one.
func backupStoreReadOnly(s *suite, tr *trial) error {
	if out, err := exec.Command("mount", "--bind", s.backupDir, s.backupDir).CombinedOutput(); err != nil {
		return fmt.Errorf("bind-mount %s: %v: %s", s.backupDir, err, out)
	}
	// Unmount the read-only bind exactly once: a second umount would take
	// away the store's own mount beneath it.
	bound := true
	defer func() {
		if bound {
			exec.Command("umount", s.backupDir).Run()
		}
	}()
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", s.backupDir).CombinedOutput(); err != nil {
		return fmt.Errorf("remount %s read-only: %v: %s", s.backupDir, err, out)
	}
	n := s.nodes[tr.rng.Intn(len(s.nodes))]
	if err := n.Proc.Signal(syscall.SIGUSR2); err != nil {
		return err
	}
	d := s.hold(tr, 3*time.Second, 10*time.Second)
	if out, err := exec.Command("umount", s.backupDir).CombinedOutput(); err != nil {
		return fmt.Errorf("umount %s: %v: %s", s.backupDir, err, out)
	}
	bound = false
	tr.note("backup store read-only for %s while %s was asked for a backup", d.Round(100*time.Millisecond), n.Name)
	return nil
}

// restoreFromBackup is the disaster: a fresh backup is taken, then every
// node is killed and loses its data and configuration; the cluster must
// come back from the backup by itself. Writes acknowledged after the
// backup (less a margin) cannot be in it and are excused; the bulk keys
// loaded at the start must all be back.
func restoreFromBackup(s *suite, tr *trial) error {
	return s.restoreAll(tr, false)
}

func (s *suite) restoreAll(tr *trial, corrupt bool) error {
	before := s.readLastBackup()
	n := tr.replicas[tr.rng.Intn(len(tr.replicas))]
	if err := n.Proc.Signal(syscall.SIGUSR2); err != nil {
		return err
	}
	var name string
	err := s.wait(60*time.Second, func() error {
		if name = s.readLastBackup(); name == "" || name == before {
			return fmt.Errorf("last-backup still names %q", before)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("no new backup after SIGUSR2 to %s: %w", n.Name, err)
	}
	taken, _, err := store.ParseName(name)
	if err != nil {
		return err
	}
	what := "took"
	if corrupt {
		// The backup restored instead is the one before: writes after it
		// cannot be in it.
		if taken, err = s.previousBackup(name); err != nil {
			return err
		}
		if err := corruptObject(filepath.Join(s.backupDir, name)); err != nil {
			return err
		}
		what = "took and corrupted"
	}
	for _, n := range s.nodes {
		s.down[n] = true
		n.KillAll()
	}
	tr.excuseFrom, tr.excuseTo = taken.Add(-2*time.Second), time.Now()
	for _, n := range s.nodes {
		if err := wipe(filepath.Join(n.Dir, "data"), filepath.Join(n.Dir, "etc")); err != nil {
			return err
		}
	}
	for _, n := range s.nodes {
		n.Start()
		delete(s.down, n)
	}
	tr.checkBulk = true
	tr.note("%s %s, killed every node, wiped every data and config directory, started them all", what, name)
	return nil
}

// previousBackup returns when the newest backup older than name was taken.
func (s *suite) previousBackup(name string) (time.Time, error) {
	st, err := dir.New(dir.Options{Dir: s.backupDir})
	if err != nil {
		return time.Time{}, err
	}
	infos, err := st.List(context.Background())
	if err != nil {
		return time.Time{}, err
	}
	var prev time.Time
	for _, in := range infos {
		if in.Name >= name || !in.Good() {
			continue
		}
		if t, _, err := store.ParseName(in.Name); err == nil && t.After(prev) {
			prev = t
		}
	}
	if prev.IsZero() {
		return time.Time{}, fmt.Errorf("no backup older than %s in the store to fall back to", name)
	}
	return prev, nil
}

// corruptObject flips bytes in the middle of a stored backup, keeping its
// size: only the sha256 (and the decompressor) can tell.
func corruptObject(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	buf := make([]byte, 64)
	off := fi.Size() / 2
	n, err := f.ReadAt(buf, off)
	if n == 0 {
		return fmt.Errorf("read %s to corrupt it: %v", path, err)
	}
	for i := range buf[:n] {
		buf[i] ^= 0xa5
	}
	if _, err := f.WriteAt(buf[:n], off); err != nil {
		return err
	}
	return f.Sync()
}

// wipe removes what the directories hold (they may be mount points).
func wipe(dirs ...string) error {
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(d, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// backupLockHolder is the session holding the backup lock, "" if none.
func (s *suite) backupLockHolder() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	kv, _, err := s.c.Consul.Client.KV().Get(backup.KeyBackupLock, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("read %s: %v", backup.KeyBackupLock, err)
	}
	if kv == nil {
		return "", nil
	}
	return kv.Session, nil
}

func (s *suite) readLastBackup() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	kv, _, err := s.c.Consul.Client.KV().Get(registry.KeyLastBackup, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil || kv == nil {
		return ""
	}
	return strings.TrimSpace(string(kv.Value))
}
