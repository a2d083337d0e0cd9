package pitr

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Layout of a chain in the store's Objects namespace Prefix:
//
//	pitr/<chain>/chain.json    ChainInfo, written once the base is stored
//	pitr/<chain>/base.rdb      the base (or base.aof), as Redis wrote it
//	pitr/<chain>/seg-...aof    segments, see Segment.Name
//	pitr/<chain>/end.json      ChainEnd, when the chain was closed
//
// With encryption on, base and segments are age files named with ".age"
// appended; names and sha256 describe the plaintext.
//
// A chain is a base plus the AOF commands that follow it, shipped as
// segments that each hold whole commands (cut outside MULTI) at byte
// offsets [Start, End) of the chain's command stream: the incr files Redis
// wrote after the base, one after the other. Segments may overlap (a sealed
// segment merged from small pieces is uploaded before the pieces are
// deleted); a restore follows the offsets, never the listing's order.
const Prefix = "pitr"

// ErrInvalidName: a name is not a chain or segment name.
var ErrInvalidName = errors.New("invalid point-in-time recovery object name")

var (
	chainRE   = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$`)
	segmentRE = regexp.MustCompile(`^seg-([0-9]{8})-([0-9]{8})-([0-9a-f]{16})-([0-9a-f]{16})-([0-9]{10})-([0-9]{10})-([0-9a-f]{64})\.aof$`)
)

// NewChainID returns a chain name that sorts by its start time.
func NewChainID(now time.Time) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("chain id: %w", err)
	}
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:]), nil
}

// ValidChainID reports whether id is a chain name NewChainID could make.
func ValidChainID(id string) bool { return chainRE.MatchString(id) }

// Segment is one stored piece of a chain's command stream.
type Segment struct {
	Chain string
	// FirstSeq..LastSeq are the pieces it holds: a piece shipped by one
	// interval has FirstSeq == LastSeq; a sealed segment merged from
	// pieces spans theirs.
	FirstSeq, LastSeq int64
	Range
	// SHA256 of the segment's bytes, lowercase hex.
	SHA256 string
}

// Name is the segment's object name inside its chain:
// seg-FIRSTSEQ-LASTSEQ-START-END-FIRSTTS-LASTTS-SHA256.aof (sequence
// numbers in decimal, offsets in hex, timestamps in unix seconds).
func (s Segment) Name() string {
	return fmt.Sprintf("seg-%08d-%08d-%016x-%016x-%010d-%010d-%s.aof",
		s.FirstSeq, s.LastSeq, s.Start, s.End, s.FirstTS, s.LastTS, s.SHA256)
}

// Key is the segment's object name in the Prefix namespace.
func (s Segment) Key() string { return s.Chain + "/" + s.Name() }

// ParseSegmentName reads a segment's name (without the chain prefix).
func ParseSegmentName(chain, name string) (Segment, error) {
	m := segmentRE.FindStringSubmatch(name)
	if m == nil {
		return Segment{}, fmt.Errorf("%q: %w", name, ErrInvalidName)
	}
	var n [6]int64
	for i, base := range []int{10, 10, 16, 16, 10, 10} {
		v, err := strconv.ParseInt(m[i+1], base, 64)
		if err != nil {
			return Segment{}, fmt.Errorf("%q: %w", name, ErrInvalidName)
		}
		n[i] = v
	}
	s := Segment{Chain: chain, FirstSeq: n[0], LastSeq: n[1], SHA256: m[7],
		Range: Range{Start: n[2], End: n[3], FirstTS: n[4], LastTS: n[5]}}
	if s.FirstSeq > s.LastSeq || s.Start >= s.End || s.FirstTS > s.LastTS {
		return Segment{}, fmt.Errorf("%q: %w: ranges run backwards", name, ErrInvalidName)
	}
	return s, nil
}

// ChainInfo is chain.json, written when a chain starts.
type ChainInfo struct {
	ID string `json:"id"`
	// Node is the address of the node that ships it.
	Node string `json:"node"`
	// Base is the base object's name inside the chain (base.rdb or
	// base.aof); BaseSize and BaseSHA256 describe it.
	Base       string `json:"base"`
	BaseSize   int64  `json:"base_size"`
	BaseSHA256 string `json:"base_sha256"`
	// BaseTS is the second the base was taken (the rewrite started): the
	// first second a restore can reach.
	BaseTS       int64  `json:"base_ts"`
	RedisVersion string `json:"redis_version,omitempty"`
	// Encrypted: base and segments are age files (".age").
	Encrypted bool      `json:"encrypted,omitempty"`
	Created   time.Time `json:"created"`
	// Parent and ParentTS name the chain and time a restored node came
	// from, when this chain's cluster was restored to a point in time.
	Parent   string `json:"parent,omitempty"`
	ParentTS int64  `json:"parent_ts,omitempty"`
}

// Validate checks a ChainInfo read from the store.
func (c ChainInfo) Validate() error {
	switch {
	case !ValidChainID(c.ID):
		return fmt.Errorf("chain id %q: %w", c.ID, ErrInvalidName)
	case c.Base != "base.rdb" && c.Base != "base.aof":
		return fmt.Errorf("chain %s: base %q is neither base.rdb nor base.aof", c.ID, c.Base)
	case len(c.BaseSHA256) != 64 || c.BaseSize <= 0:
		return fmt.Errorf("chain %s: base without size or sha256", c.ID)
	case c.BaseTS <= 0:
		return fmt.Errorf("chain %s: base without a time", c.ID)
	}
	return nil
}
