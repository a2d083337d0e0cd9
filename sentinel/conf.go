// Package sentinel reads the sentinel.conf that Redis Sentinel rewrites,
// decides whether to keep it, updates its tunables, and talks to a running
// sentinel (SENTINEL commands, events, asking several for a majority view).
package sentinel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/etc"
)

// ErrNoMonitor is returned by ParseConf for a file without `sentinel monitor`.
var ErrNoMonitor = errors.New("sentinel.conf has no sentinel monitor line")

// ErrManyMonitors is returned by ParseConf for a file that monitors more than
// one master: this project writes exactly one, so the file was edited by hand.
var ErrManyMonitors = errors.New("sentinel.conf monitors more than one master")

// KnownSentinel is a `sentinel known-sentinel <name> <ip> <port> <runid>` line.
type KnownSentinel struct {
	Addr string // "ip:port"
	ID   string // the other sentinel's myid
}

// ConfState is what a (possibly Sentinel-rewritten) sentinel.conf says about
// its one monitored master.
type ConfState struct {
	MasterName  string
	MasterAddr  string // IP as in the monitor line
	MasterPort  int
	Quorum      int
	MyID        string // `sentinel myid`
	Epoch       int64  // `sentinel current-epoch`
	ConfigEpoch int64  // `sentinel config-epoch <name>`
	// KnownReplicas are "ip:port" of `sentinel known-replica` lines.
	KnownReplicas  []string
	KnownSentinels []KnownSentinel
}

// Master is "ip:port" of the monitored master.
func (s ConfState) Master() string {
	return net.JoinHostPort(s.MasterAddr, strconv.Itoa(s.MasterPort))
}

// ParseConf reads a sentinel.conf, as written by etc.RenderSentinel or as
// rewritten by Sentinel (which appends myid, epochs and known-* lines, in
// any order). Lines about other masters than the monitored one are ignored.
func ParseConf(r io.Reader) (ConfState, error) {
	var s ConfState
	var lines [][]string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		args, err := etc.SplitArgs(sc.Text())
		if err != nil {
			return ConfState{}, fmt.Errorf("parse sentinel.conf line %d: %w", n, err)
		}
		if len(args) >= 2 && strings.EqualFold(args[0], "sentinel") {
			args[1] = strings.ToLower(args[1])
			lines = append(lines, args[1:])
		}
	}
	if err := sc.Err(); err != nil {
		return ConfState{}, fmt.Errorf("read sentinel.conf: %w", err)
	}
	for _, a := range lines { // the monitor line first: the others name it
		if a[0] != "monitor" {
			continue
		}
		if s.MasterName != "" {
			return ConfState{}, ErrManyMonitors
		}
		if len(a) != 5 {
			return ConfState{}, fmt.Errorf("parse sentinel.conf: monitor line %q", a)
		}
		s.MasterName, s.MasterAddr = a[1], a[2]
		s.MasterPort, _ = strconv.Atoi(a[3])
		s.Quorum, _ = strconv.Atoi(a[4])
	}
	if s.MasterName == "" {
		return ConfState{}, ErrNoMonitor
	}
	for _, a := range lines {
		s.apply(a)
	}
	return s, nil
}

// apply records one `sentinel ...` line (without the "sentinel" word).
func (s *ConfState) apply(a []string) {
	ours := len(a) >= 2 && a[1] == s.MasterName
	switch {
	case a[0] == "myid" && len(a) == 2:
		s.MyID = a[1]
	case a[0] == "current-epoch" && len(a) == 2:
		s.Epoch, _ = strconv.ParseInt(a[1], 10, 64)
	case a[0] == "config-epoch" && ours && len(a) == 3:
		s.ConfigEpoch, _ = strconv.ParseInt(a[2], 10, 64)
	case (a[0] == "known-replica" || a[0] == "known-slave") && ours && len(a) == 4:
		s.KnownReplicas = append(s.KnownReplicas, net.JoinHostPort(a[2], a[3]))
	case a[0] == "known-sentinel" && ours && len(a) >= 4:
		k := KnownSentinel{Addr: net.JoinHostPort(a[2], a[3])}
		if len(a) >= 5 {
			k.ID = a[4]
		}
		s.KnownSentinels = append(s.KnownSentinels, k)
	}
}

// ReadConf is ParseConf of the file at path. A missing file is returned as
// an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadConf(path string) (ConfState, error) {
	f, err := os.Open(path)
	if err != nil {
		return ConfState{}, fmt.Errorf("read sentinel.conf: %w", err)
	}
	defer f.Close()
	s, err := ParseConf(f)
	if err != nil {
		return ConfState{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// KeepExisting says whether a rewritten sentinel.conf should be kept (with
// its learned myid, epochs, known replicas and sentinels) rather than
// rendered afresh: only when it monitors masterName at currentMaster
// ("ip:port", the master the caller has established now). An unknown
// current master ("") or a different name or address means write a new one.
func KeepExisting(existing ConfState, masterName, currentMaster string) bool {
	return currentMaster != "" && existing.MasterName == masterName && existing.Master() == currentMaster
}

// Tunables are the settings that may change between starts without
// invalidating what Sentinel learned.
type Tunables struct {
	Quorum          int
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	ParallelSyncs   int // 0: leave as is
	// Password sets auth-pass and requirepass; "" removes both.
	Password string
	// AnnounceIP / AnnouncePort: "" / 0 remove the line.
	AnnounceIP   string
	AnnouncePort int
}
