package pitr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// aofDir watches a node's appendonlydir/ and hard-links each incr file
// into a private spool directory the moment it is seen in the manifest,
// so that a rewrite finishing (which unlinks the old base and incr files
// about 80 ms later) never takes bytes the shipper has not read.
type aofDir struct {
	dir   string // appendonlydir
	spool string // private directory on the same filesystem
}

func newAOFDir(dataDir string) (*aofDir, error) {
	a := &aofDir{dir: filepath.Join(dataDir, AOFDir), spool: filepath.Join(dataDir, ".pitr")}
	if err := os.MkdirAll(a.spool, 0o700); err != nil {
		return nil, fmt.Errorf("point-in-time spool directory: %w", err)
	}
	return a, nil
}

func (a *aofDir) manifest() (Manifest, error) {
	f, err := os.Open(filepath.Join(a.dir, AOFFilename+".manifest"))
	if err != nil {
		return Manifest{}, fmt.Errorf("read the AOF manifest: %w", err)
	}
	defer f.Close()
	return ParseManifest(f)
}

func (a *aofDir) incrLink(seq int64) string {
	return filepath.Join(a.spool, "incr-"+strconv.FormatInt(seq, 10)+".aof")
}

func (a *aofDir) baseLink() string { return filepath.Join(a.spool, "base") }

// linkIncrs links every incr file of the manifest with a sequence number
// above after (not linked yet) and returns the manifest.
func (a *aofDir) linkIncrs(after int64) (Manifest, error) {
	m, err := a.manifest()
	if err != nil {
		return Manifest{}, err
	}
	for _, f := range m.Incrs() {
		if f.Seq <= after {
			continue
		}
		err := link(filepath.Join(a.dir, f.Name), a.incrLink(f.Seq))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Manifest{}, err
		} // gone already: the shipper finds the link missing and ends the chain
	}
	return m, nil
}

// link hard-links from to to; an existing link is kept.
func link(from, to string) error {
	err := os.Link(from, to)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hard-link %s: %w", filepath.Base(from), err)
	}
	return nil
}

// clear removes every link (a chain ended).
func (a *aofDir) clear() error {
	entries, err := os.ReadDir(a.spool)
	if err != nil {
		return fmt.Errorf("clear the point-in-time spool: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "incr-") || e.Name() == "base" {
			if err := os.Remove(filepath.Join(a.spool, e.Name())); err != nil {
				return fmt.Errorf("clear the point-in-time spool: %w", err)
			}
		}
	}
	return nil
}
