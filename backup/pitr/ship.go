package pitr

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/hashicorp/go-hclog"
)

// Defaults of ShipperOptions.
const (
	DefaultInterval   = time.Second
	DefaultSpoolLimit = 1 << 30
	// DefaultStallTimeout bounds one store request of the shipper.
	DefaultStallTimeout = 2 * time.Minute
	DefaultSealPieces   = 60
	DefaultSealBytes    = 16 << 20
	// maxReadPerTick bounds what one tick reads of the incr file.
	maxReadPerTick = 64 << 20
	// linkEvery is how often the manifest is watched for new incr files.
	linkEvery = 20 * time.Millisecond
	// finalShipTimeout bounds the last shipment and end.json when
	// shipping stops.
	finalShipTimeout = 10 * time.Second
)

// errBroken ends the current chain; a new one starts.
var errBroken = errors.New("chain broken")

// Node is what the shipper needs of the local redis.
type Node interface {
	Info(ctx context.Context, sections ...string) (redisnode.Info, error)
	BgRewriteAOF(ctx context.Context) error
	ConfigSet(ctx context.Context, key, value string) error
	ConfigGet(ctx context.Context, key string) (string, error)
}

// ShipObserver is told what the shipper did (metrics implement it).
type ShipObserver interface {
	// Shipped reports the newest #TS in the store and the bytes of AOF
	// written but not stored yet.
	Shipped(chain string, lastTS, bytesBehind int64)
	// ChainEnded reports a chain ending; broken when bytes were lost
	// (store outage past the spool limit, a gap).
	ChainEnded(chain, reason string, broken bool)
}

type noShipObserver struct{}

func (noShipObserver) Shipped(string, int64, int64)    {}
func (noShipObserver) ChainEnded(string, string, bool) {}

// ShipperOptions configure a Shipper.
type ShipperOptions struct {
	Node    Node
	DataDir string
	Store   *ChainStore
	// Holder is this node's address, recorded in chain.json.
	Holder string
	// Interval is PITR_INTERVAL.
	Interval time.Duration
	// SpoolLimit bounds the AOF bytes written but not stored while the
	// store fails or stalls (they stay in the hard-linked incr files on
	// the data directory's disk, at most one tick's read in memory); past
	// it the chain is broken, and a new one starts when the store answers.
	SpoolLimit int64
	// StallTimeout bounds each store request (BACKUP_STALL_TIMEOUT).
	StallTimeout time.Duration
	// SealPieces and SealBytes: pieces are merged into one sealed
	// segment when this many are stored, or this many bytes.
	SealPieces int
	SealBytes  int64
	// MaxAge, when set, ends a chain this old once everything read is
	// stored, and a new one starts: chains are pruned whole, so none may
	// grow without bound (the node passes BACKUP_TTL).
	MaxAge time.Duration
	// StampedFromStart says that redis.conf turns aof-timestamp-enabled
	// on, so redis has written #TS since its process started: the first
	// chain may then start from the AOF that process wrote
	// (startFromOwnAOF).
	StampedFromStart bool
	// Parent, when set, is recorded in the first chain's chain.json (the
	// cluster was restored from it); ParentRecorded is then called.
	Parent         ParentRef
	ParentRecorded func()
	Observer       ShipObserver
	Log            hclog.Logger
	Now            func() time.Time
}

func (o *ShipperOptions) validate() error {
	if o.Node == nil || o.Store == nil || o.DataDir == "" {
		return fmt.Errorf("%w: Node, Store and DataDir are required", ErrInvalidOptions)
	}
	o.Interval = cmpOr(o.Interval, DefaultInterval)
	o.SpoolLimit = cmpOr(o.SpoolLimit, DefaultSpoolLimit)
	o.StallTimeout = cmpOr(o.StallTimeout, DefaultStallTimeout)
	o.SealPieces = cmpOr(o.SealPieces, DefaultSealPieces)
	o.SealBytes = cmpOr(o.SealBytes, DefaultSealBytes)
	if o.Observer == nil {
		o.Observer = noShipObserver{}
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

func cmpOr[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Shipper ships this node's AOF as one chain at a time. Tick and Run are
// not safe for concurrent use.
type Shipper struct {
	o   ShipperOptions
	aof *aofDir
	c   *chain
	// linkAfter is the incr sequence the link watcher links above; -1
	// when no chain is active.
	linkAfter atomic.Int64
	status    atomic.Pointer[Status]
	// outage is what the shipper keeps while the store fails.
	outage outage
	// resynced is the run ID of the redis whose full resync ended the
	// last chain ("" when another cause did): the next chain may start
	// from the rewrite redis made after it (startAfterResync).
	resynced string
	// started is set once this shipper started a chain.
	started bool
}

// piece is a cut segment and its bytes.
type piece struct {
	seg  Segment
	data []byte
}

// chain is the state of the chain being shipped.
type chain struct {
	info     ChainInfo
	runID    string
	replID   string
	scan     *Scanner
	buf      []byte // bytes from the last cut to scan.Offset(), in back
	back     []byte // the array buf and the pending pieces' bytes are in
	curSeq   int64  // manifest seq of the incr file being read
	fileBase int64  // chain offset where it starts
	fileOff  int64  // bytes of it consumed
	seq      int64  // last piece's sequence number
	pending  []piece
	spooled  int64
	stored   []Segment // pieces stored, not sealed yet
	shipped  int64     // chain offset stored
	lastTS   int64
}

// NewShipper validates o.
func NewShipper(o ShipperOptions) (*Shipper, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	a, err := newAOFDir(o.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Shipper{o: o, aof: a}
	s.linkAfter.Store(-1)
	return s, nil
}

// Decision is what one Tick did and why.
type Decision struct {
	Chain  string
	Reason string
}

// Run ships every Interval until ctx ends, then ends the chain (a new
// shipping node starts its own). It logs each decision whose reason
// changed. Its goroutine runs at a lower CPU priority (lowerPriority):
// call it on a goroutine of its own.
func (s *Shipper) Run(ctx context.Context) error {
	if err := lowerPriority(); err != nil {
		s.o.Log.Warn("could not lower the shipper's CPU priority; it competes with redis-server as an equal", "error", err)
	}
	go s.watchLinks(ctx)
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	last := ""
	for {
		d, err := s.Tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.o.Log.Error("point-in-time shipping failed", "error", err)
			last = ""
		case err == nil && d.Reason != last:
			s.o.Log.Info(d.Reason, "chain", d.Chain)
			last = d.Reason
		}
		select {
		case <-ctx.Done():
			ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalShipTimeout)
			s.flush(ectx)
			s.End(ectx, "shipping stopped on this node")
			cancel()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// watchLinks hard-links new incr files as soon as the manifest names them.
func (s *Shipper) watchLinks(ctx context.Context) {
	t := time.NewTicker(linkEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if after := s.linkAfter.Load(); after >= 0 {
			if _, err := s.aof.linkIncrs(after); err != nil {
				s.o.Log.Debug("could not link new incr files", "error", err)
			}
		}
	}
}

// Tick starts a chain if none is active, else reads the AOF's new bytes,
// cuts them at the last command boundary outside MULTI, stores them, and
// seals stored pieces into one segment when enough have gathered.
func (s *Shipper) Tick(ctx context.Context) (Decision, error) {
	defer s.publish()
	if s.c == nil {
		return s.tryStart(ctx)
	}
	id := s.c.info.ID
	err := s.continuity(ctx)
	if err == nil && len(s.c.pending) > 0 {
		err = s.upload(ctx) // what the store refused last time, first
	}
	if err == nil {
		err = s.read()
	}
	stored := err == nil
	if stored {
		s.cut()
		err = s.upload(ctx)
	}
	switch {
	case errors.Is(err, errBroken):
		s.end(ctx, err.Error(), true)
		return Decision{Chain: id, Reason: "The chain broke (" + err.Error() + "); a new chain starts when the store answers."}, nil
	case err != nil && stored:
		s.outage.storeErr = err.Error()
		return Decision{Chain: id, Reason: "The store failed; AOF bytes are spooled on disk (up to the spool limit) until it answers."}, nil
	case err != nil: // redis or the AOF did not answer: nothing was read
		return Decision{Chain: id}, err
	}
	s.outage.storeErr = ""
	if err := s.seal(ctx); err != nil {
		s.o.Log.Warn("could not seal point-in-time pieces; they stay as they are", "error", err)
	}
	if s.o.MaxAge > 0 && len(s.c.pending) == 0 && s.o.Now().Sub(s.c.info.Created) >= s.o.MaxAge {
		s.end(ctx, "rotated: the chain reached its maximum age", false)
		return Decision{Chain: id, Reason: "The chain reached its maximum age (BACKUP_TTL); a new chain starts so that old ones can be pruned."}, nil
	}
	return Decision{Chain: id, Reason: "Shipping the AOF."}, nil
}

// End closes the current chain, if any, writing end.json.
func (s *Shipper) End(ctx context.Context, reason string) {
	if s.c != nil {
		s.end(ctx, reason, false)
	}
}

func (s *Shipper) end(ctx context.Context, reason string, broken bool) {
	c := s.c
	s.c = nil
	s.linkAfter.Store(-1)
	// Broken or not, the chain ends where the store's bytes end: what
	// was spooled is not in it.
	end := ChainEnd{Offset: c.shipped, LastTS: c.lastTS, Reason: reason, Broken: broken || c.spooled > 0}
	s.putEnd(ctx, c.info.ID, end)
	if err := s.aof.clear(); err != nil {
		s.o.Log.Warn("could not clear the point-in-time spool", "error", err)
	}
	s.o.Observer.ChainEnded(c.info.ID, reason, broken)
}

// continuity ends the chain when Redis restarted or its replication
// history changed (a full resync replaces the dataset outside the AOF).
func (s *Shipper) continuity(ctx context.Context) error {
	runID, replID, replID2, err := s.ids(ctx)
	if err != nil {
		return err
	}
	c := s.c
	switch {
	case runID != c.runID:
		return fmt.Errorf("%w: redis restarted", errBroken)
	case replID != c.replID && replID2 != c.replID:
		s.resynced = runID
		return fmt.Errorf("%w: redis's replication history changed (a full resync)", errBroken)
	}
	c.replID = replID
	return nil
}

func (s *Shipper) ids(ctx context.Context) (runID, replID, replID2 string, err error) {
	info, err := s.o.Node.Info(ctx, "server", "replication")
	if err != nil {
		return "", "", "", fmt.Errorf("INFO: %w", err)
	}
	return info["run_id"], info["master_replid"], info["master_replid2"], nil
}

// upload stores the pending pieces in order, each within StallTimeout;
// past SpoolLimit bytes behind the chain is broken.
func (s *Shipper) upload(ctx context.Context) error {
	c := s.c
	for len(c.pending) > 0 {
		p := c.pending[0]
		pctx, cancel := context.WithTimeout(ctx, s.o.StallTimeout)
		err := s.o.Store.PutSegment(pctx, p.seg, bytesReader(p.data))
		cancel()
		if err != nil {
			if behind := s.behind(); behind > s.o.SpoolLimit {
				return fmt.Errorf("%w: the store failed with %d bytes not shipped (spool limit %d): %w", errBroken, behind, s.o.SpoolLimit, err)
			}
			s.o.Observer.Shipped(c.info.ID, c.lastTS, s.behind())
			return err
		}
		c.pending[0] = piece{}
		c.pending = c.pending[1:]
		c.spooled -= int64(len(p.data))
		c.stored = append(c.stored, p.seg)
		c.shipped, c.lastTS = p.seg.End, p.seg.LastTS
	}
	s.o.Observer.Shipped(c.info.ID, c.lastTS, s.behind())
	return nil
}
