package pitr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/internal/ctxtime"
)

// startTimeout bounds a chain's start: the rewrite and the base upload.
const startTimeout = 30 * time.Minute

// startChain begins a chain, and says how: from the rewrite redis made
// after a full resync (startAfterResync), the first one from the AOF redis
// has (startFromOwnAOF), else from a rewrite of its own (startRewrite).
func (s *Shipper) startChain(ctx context.Context) (string, error) {
	reason, err := s.startOne(ctx)
	if err == nil {
		s.started = true
	}
	return reason, err
}

func (s *Shipper) startOne(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := s.aof.clear(); err != nil {
		return "", err
	}
	if err := s.o.Node.ConfigSet(ctx, "aof-timestamp-enabled", "yes"); err != nil {
		return "", fmt.Errorf("turn on aof-timestamp-enabled: %w", err)
	}
	if err := s.waitRewrite(ctx); err != nil {
		return "", err
	}
	started, err := s.startAfterResync(ctx)
	if started || err != nil {
		return "Started a point-in-time chain from the AOF base redis wrote after its full resync.", err
	}
	if !s.started {
		started, err := s.startFromOwnAOF(ctx)
		if started || err != nil {
			return "Started a point-in-time chain from the AOF base and incr file redis already had, so its window reaches back to that base.", err
		}
	}
	return "Started a point-in-time chain with a fresh AOF base.", s.startRewrite(ctx)
}

// startFromOwnAOF starts the first chain of this shipper from the base and
// the one incr file of the manifest as they are, when the redis process
// that runs now wrote both with #TS on (StampedFromStart, and the base no
// older than the process): the base holds the dataset as of its rewrite,
// the incr file every write since, each after its second's #TS. The
// window then begins at that rewrite, not at a rewrite of the shipper's
// own: when the shipping node dies, the node that takes over covers the
// seconds since its own last rewrite, those the dead node had not shipped
// included (with a fresh rewrite they were in no window: some 35 s after
// a SIGKILL, the Consul session's expiry). Not when the incr file is
// larger than half the spool limit: it is all to be shipped at once.
// BaseTS is the base file's modification time, as in startAfterResync.
// It does nothing (false) in every other case.
func (s *Shipper) startFromOwnAOF(ctx context.Context) (bool, error) {
	if !s.o.StampedFromStart {
		return false, nil
	}
	// The IDs before the files are chosen: a full resync that finishes
	// meanwhile replaces them, and storeBase then refuses the start.
	info, err := s.o.Node.Info(ctx, "server", "replication")
	if err != nil {
		return false, err
	}
	base, incr, ok, err := s.baseAndIncr()
	if !ok || err != nil {
		return false, err
	}
	uptime, err := strconv.ParseInt(info["uptime_in_seconds"], 10, 64)
	if err != nil {
		return false, nil
	}
	// The process started at most uptime seconds ago (whole seconds: a
	// base the previous process wrote in the second this one started
	// passes too; the node's redis.conf stamped it as well).
	startedBy := s.o.Now().Add(-time.Duration(uptime) * time.Second)
	if st, err := os.Stat(filepath.Join(s.aof.dir, base.Name)); err != nil || st.ModTime().Before(startedBy) {
		return false, nil
	}
	if st, err := os.Stat(filepath.Join(s.aof.dir, incr.Name)); err != nil || st.Size() > s.o.SpoolLimit/2 {
		return false, nil
	}
	return true, s.startFromFiles(ctx, base, incr, &historyIDs{info["run_id"], info["master_replid"]})
}

// baseAndIncr is the manifest's base and its one incr file; ok is false
// when it has no base or other than one incr file (a rewrite that failed
// left one more).
func (s *Shipper) baseAndIncr() (base, incr ManifestFile, ok bool, err error) {
	m, err := s.aof.manifest()
	if err != nil {
		return base, incr, false, err
	}
	incrs := m.Incrs()
	base, hasBase := m.Base()
	if len(incrs) != 1 || !hasBase {
		return base, incr, false, nil
	}
	return base, incrs[0], true, nil
}

// startAfterResync starts a chain from the base and the one incr file of
// the manifest when the last chain ended at a full resync of this same
// redis process: redis reloaded the new master's data and rewrote its AOF
// itself, with aof-timestamp-enabled on since that chain began, and no
// rewrite runs (waitRewrite), so the base and incr file hold the dataset
// whole. Its window then begins at that rewrite, not at a rewrite of the
// shipper's a tick or more later, which would leave the writes the new
// master took meanwhile in no window. BaseTS is the base file's
// modification time: the rewrite forked before it. It does nothing
// (false) in every other case.
func (s *Shipper) startAfterResync(ctx context.Context) (bool, error) {
	if s.resynced == "" {
		return false, nil
	}
	runID, _, _, err := s.ids(ctx)
	if err != nil {
		return false, err
	}
	if runID != s.resynced {
		s.resynced = ""
		return false, nil
	}
	base, incr, ok, err := s.baseAndIncr()
	if !ok || err != nil {
		return false, err
	}
	return true, s.startFromFiles(ctx, base, incr, nil)
}

// startRewrite begins a chain: BGREWRITEAOF, the new incr file linked at
// once, the base stored when the rewrite is done, then chain.json. The
// base holds every write before the rewrite forked and the new incr file
// every write after, so BaseTS, a second read once the rewrite is done (a
// BGREWRITEAOF may only be scheduled when it answers), begins the window.
func (s *Shipper) startRewrite(ctx context.Context) error {
	before, err := s.aof.manifest()
	if err != nil {
		return err
	}
	last := lastIncr(before)
	s.linkAfter.Store(last)
	if err := s.o.Node.BgRewriteAOF(ctx); err != nil {
		return fmt.Errorf("BGREWRITEAOF: %w", err)
	}
	if err := s.waitRewrite(ctx); err != nil {
		return err
	}
	baseTS := s.o.Now().Unix()
	m, err := s.aof.linkIncrs(last)
	if err != nil {
		return err
	}
	incrs := m.Incrs()
	base, hasBase := m.Base()
	if len(incrs) != 1 || incrs[0].Seq != last+1 || !hasBase {
		return fmt.Errorf("the rewrite did not finish cleanly (manifest %q); trying again next time", m.String())
	}
	if err := link(filepath.Join(s.aof.dir, base.Name), s.aof.baseLink()); err != nil {
		return err
	}
	return s.storeBase(ctx, base, incrs[0].Seq, baseTS, nil)
}

// historyIDs are redis's run ID and replication ID.
type historyIDs struct{ runID, replID string }

// startFromFiles begins a chain from the base and the incr file redis
// wrote, as they are: both linked, BaseTS the base file's modification
// time (the rewrite forked before it). When before is set, the IDs must
// not have changed since the files were chosen.
func (s *Shipper) startFromFiles(ctx context.Context, base, incr ManifestFile, before *historyIDs) error {
	s.linkAfter.Store(incr.Seq)
	if err := link(filepath.Join(s.aof.dir, incr.Name), s.aof.incrLink(incr.Seq)); err != nil {
		return err
	}
	if err := link(filepath.Join(s.aof.dir, base.Name), s.aof.baseLink()); err != nil {
		return err
	}
	st, err := os.Stat(s.aof.baseLink())
	if err != nil {
		return fmt.Errorf("the base: %w", err)
	}
	return s.storeBase(ctx, base, incr.Seq, st.ModTime().Unix(), before)
}

func (s *Shipper) storeBase(ctx context.Context, base ManifestFile, seq, baseTS int64, before *historyIDs) error {
	id, err := NewChainID(s.o.Now())
	if err != nil {
		return err
	}
	runID, replID, _, err := s.ids(ctx)
	if err != nil {
		return err
	}
	if before != nil && (before.runID != runID || before.replID != replID) {
		return errors.New("redis restarted or resynced in full while the chain started; trying again")
	}
	info := ChainInfo{ID: id, Node: s.o.Holder, Base: "base.rdb", BaseTS: baseTS, Created: s.o.Now().UTC()}
	if strings.HasSuffix(base.Name, ".aof") {
		info.Base = "base.aof"
	}
	if s.o.Parent.Valid() {
		info.Parent, info.ParentTS = s.o.Parent.Chain, s.o.Parent.TS
	}
	if ri, err := s.o.Node.Info(ctx, "server"); err == nil {
		info.RedisVersion = ri.RedisVersion()
	}
	f, err := os.Open(s.aof.baseLink())
	if err != nil {
		return fmt.Errorf("open the base: %w", err)
	}
	defer f.Close()
	if err := s.o.Store.PutBase(ctx, &info, f); err != nil {
		return err
	}
	if err := s.o.Store.PutInfo(ctx, info); err != nil {
		return err
	}
	if s.o.Parent.Valid() {
		s.o.Parent = ParentRef{}
		if s.o.ParentRecorded != nil {
			s.o.ParentRecorded()
		}
	}
	_ = os.Remove(s.aof.baseLink())
	s.resynced = ""
	s.c = &chain{info: info, runID: runID, replID: replID, scan: NewScanner(State{}), curSeq: seq, lastTS: baseTS}
	s.linkAfter.Store(seq)
	return nil
}

func lastIncr(m Manifest) int64 {
	last := int64(0)
	for _, f := range m.Incrs() {
		last = max(last, f.Seq)
	}
	return last
}

// errAOFOff is the configuration point-in-time recovery cannot work with.
var errAOFOff = errors.New("appendonly is off: point-in-time recovery needs appendonly yes")

// waitRewrite waits until no AOF rewrite is running or scheduled, and
// fails when the last one failed. While redis loads a dataset (a replica
// in a full sync loads the master's snapshot) it waits too: redis has the
// AOF off then (INFO's aof_enabled is 0), and turns it on with a rewrite
// when the load ends, if the appendonly setting says so; when it does not,
// the wait ends at once.
func (s *Shipper) waitRewrite(ctx context.Context) error {
	setting := ""
	for {
		info, err := s.o.Node.Info(ctx, "persistence")
		if err != nil {
			return fmt.Errorf("INFO persistence: %w", err)
		}
		loading := info.Loading() || info["async_loading"] == "1"
		if info["aof_enabled"] != "1" {
			if !loading {
				return errAOFOff
			}
			if setting == "" {
				if setting, err = s.o.Node.ConfigGet(ctx, "appendonly"); err != nil {
					return fmt.Errorf("CONFIG GET appendonly while redis loads its dataset: %w", err)
				}
			}
			if setting != "yes" {
				return errAOFOff
			}
		}
		if !loading && info["aof_rewrite_in_progress"] == "0" && info["aof_rewrite_scheduled"] == "0" {
			if st := info["aof_last_bgrewrite_status"]; st != "ok" {
				return fmt.Errorf("the last AOF rewrite failed (aof_last_bgrewrite_status:%s)", st)
			}
			return nil
		}
		if err := ctxtime.Sleep(ctx, 50*time.Millisecond); err != nil {
			if loading {
				return fmt.Errorf("wait for redis to load its dataset: %w", err)
			}
			return fmt.Errorf("wait for the AOF rewrite: %w", err)
		}
	}
}

// seal merges the stored pieces into one segment once there are
// SealPieces of them or SealBytes. A piece of SealBytes or more is a
// segment of its own (merging it would copy it again for nothing: at a
// high write rate every interval's piece is one): the pieces before it
// are merged then, when there are two or more.
func (s *Shipper) seal(ctx context.Context) error {
	c := s.c
	big := -1
	for i, p := range c.stored {
		if p.Len() >= s.o.SealBytes {
			big = i
		}
	}
	if big >= 0 {
		if big >= 2 {
			if err := s.merge(ctx, c.stored[:big]); err != nil {
				return err
			}
		}
		c.stored = c.stored[big+1:]
	}
	if len(c.stored) < 2 {
		return nil
	}
	size := c.stored[len(c.stored)-1].End - c.stored[0].Start
	if len(c.stored) < s.o.SealPieces && size < s.o.SealBytes {
		return nil
	}
	if err := s.merge(ctx, c.stored); err != nil {
		return err
	}
	c.stored = nil
	return nil
}

// merge stores pieces as one sealed segment, reading them back from the
// store (which checks each against its sha256), then deletes them.
func (s *Shipper) merge(ctx context.Context, pieces []Segment) error {
	tmp, err := os.CreateTemp(s.aof.spool, "seal-")
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	sealed, err := Merge(ctx, pieces, s.o.Store.OpenSegment, tmp)
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := s.o.Store.PutSegment(ctx, sealed, tmp); err != nil {
		return err
	}
	for _, p := range pieces {
		if err := s.o.Store.DeleteSegment(ctx, p, s.c.info.Encrypted); err != nil {
			s.o.Log.Warn("could not delete a sealed piece; restores skip it", "segment", p.Key(), "error", err)
		}
	}
	return nil
}

func sum256(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
