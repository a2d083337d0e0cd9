package sentinel

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/etc"
)

// Validate reports the first problem with t, wrapping etc.ErrInvalid.
func (t Tunables) Validate() error {
	if err := etc.CheckSentinelTimes(t.Quorum, t.DownAfter, t.FailoverTimeout); err != nil {
		return err
	}
	switch {
	case t.ParallelSyncs < 0:
		return fmt.Errorf("%w: parallel-syncs %d < 0", etc.ErrInvalid, t.ParallelSyncs)
	case t.AnnounceIP != "" && net.ParseIP(t.AnnounceIP) == nil:
		return fmt.Errorf("%w: announce-ip %q is not an IP", etc.ErrInvalid, t.AnnounceIP)
	case t.AnnouncePort < 0 || t.AnnouncePort > 65535:
		return fmt.Errorf("%w: announce-port %d out of range", etc.ErrInvalid, t.AnnouncePort)
	}
	return nil
}

// UpdateConf sets the tunables of masterName in the sentinel.conf at path
// and keeps every other line (myid, epochs, known replicas and sentinels),
// replacing the file atomically (mode 0600). Call it while that sentinel is
// stopped: a running sentinel rewrites the file from memory.
//
// RECOMMENDED way to apply tunables to a kept file: UpdateConf before
// starting sentinel. It is atomic, survives restarts, and is the only way
// to change requirepass (no SENTINEL command changes it). Client.Apply
// (SENTINEL SET at runtime) is for changes while sentinel runs, e.g. a new
// quorum from Consul.
//
// The password also replaces Sentinel's rewritten `user default ... #<hash>`
// line, which would otherwise keep the old password valid.
func UpdateConf(path, masterName string, t Tunables) error {
	if err := t.Validate(); err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("update sentinel.conf: %w", err)
	}
	var out bytes.Buffer
	monitors := 0
	sc := bufio.NewScanner(bytes.NewReader(old))
	for n := 1; sc.Scan(); n++ {
		args, err := etc.SplitArgs(sc.Text())
		if err != nil {
			return fmt.Errorf("update %s line %d: %w", path, n, err)
		}
		switch {
		case isMonitor(args, masterName):
			monitors++
			writeTunables(&out, args, t)
		case !isTunable(args, masterName, t):
			out.WriteString(sc.Text() + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	if monitors != 1 {
		return fmt.Errorf("update %s: %d monitor lines for %s: %w", path, monitors, masterName, ErrNoMonitor)
	}
	return etc.WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(out.Bytes())
		return err
	})
}

func isMonitor(a []string, name string) bool {
	return len(a) == 6 && strings.EqualFold(a[0], "sentinel") && strings.EqualFold(a[1], "monitor") && a[2] == name
}

// isTunable reports a line UpdateConf replaces.
func isTunable(a []string, name string, t Tunables) bool {
	if len(a) >= 2 && strings.EqualFold(a[0], "user") && a[1] == "default" {
		return true
	}
	if len(a) >= 1 && strings.EqualFold(a[0], "requirepass") {
		return true
	}
	if len(a) < 2 || !strings.EqualFold(a[0], "sentinel") {
		return false
	}
	switch strings.ToLower(a[1]) {
	case "announce-ip", "announce-port":
		return true
	case "down-after-milliseconds", "failover-timeout", "auth-pass":
		return len(a) >= 3 && a[2] == name
	case "parallel-syncs":
		return len(a) >= 3 && a[2] == name && t.ParallelSyncs > 0
	}
	return false
}

// writeTunables writes the monitor line a with t's quorum, then the rest of t.
func writeTunables(w io.Writer, a []string, t Tunables) {
	name := a[2]
	fmt.Fprintf(w, "sentinel monitor %s %s %s %d\n", name, a[3], a[4], t.Quorum)
	fmt.Fprintf(w, "sentinel down-after-milliseconds %s %d\n", name, t.DownAfter.Milliseconds())
	fmt.Fprintf(w, "sentinel failover-timeout %s %d\n", name, t.FailoverTimeout.Milliseconds())
	if t.ParallelSyncs > 0 {
		fmt.Fprintf(w, "sentinel parallel-syncs %s %d\n", name, t.ParallelSyncs)
	}
	if t.Password != "" {
		fmt.Fprintf(w, "sentinel auth-pass %s %s\nrequirepass %s\n", name, etc.Quote(t.Password), etc.Quote(t.Password))
	}
	if t.AnnounceIP != "" {
		fmt.Fprintf(w, "sentinel announce-ip %s\n", etc.Quote(t.AnnounceIP))
	}
	if t.AnnouncePort != 0 {
		fmt.Fprintf(w, "sentinel announce-port %d\n", t.AnnouncePort)
	}
}
