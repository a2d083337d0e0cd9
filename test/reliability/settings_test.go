//go:build reliability

package reliability

import (
	"flag"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var (
	seedFlag      = flag.Int64("seed", 0, "seed for the faults (0: from the clock; printed)")
	longFlag      = flag.Bool("long", false, "long mode: every scenario, round after round, for -duration")
	durationFlag  = flag.Duration("duration", 30*time.Minute, "how long the long mode runs trials")
	scenariosFlag = flag.String("scenarios", "", "regexp: run only the scenarios it matches")
	trialsFlag    = flag.Int("trials", 0, "trials per scenario in short mode (0: each scenario's own)")
)

// settings are the flags, overridden by the environment.
type settings struct {
	seed     int64
	long     bool
	duration time.Duration
	only     *regexp.Regexp
	trials   int
}

func loadSettings(t *testing.T) settings {
	t.Helper()
	s := settings{seed: *seedFlag, long: *longFlag, duration: *durationFlag, trials: *trialsFlag}
	pattern := *scenariosFlag
	if v := os.Getenv("RELIABILITY_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("RELIABILITY_SEED=%q: %v", v, err)
		}
		s.seed = n
	}
	if v := os.Getenv("RELIABILITY_LONG"); v != "" {
		s.long = v == "1" || v == "true"
	}
	if v := os.Getenv("RELIABILITY_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("RELIABILITY_DURATION=%q: %v", v, err)
		}
		s.duration = d
	}
	if v := os.Getenv("RELIABILITY_SCENARIOS"); v != "" {
		pattern = v
	}
	if v := os.Getenv("RELIABILITY_TRIALS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("RELIABILITY_TRIALS=%q: %v", v, err)
		}
		s.trials = n
	}
	if pattern != "" {
		re, err := regexp.Compile(pattern)
		if err != nil {
			t.Fatalf("scenarios %q: %v", pattern, err)
		}
		s.only = re
	}
	if s.seed == 0 {
		s.seed = time.Now().UnixNano() % 1_000_000_000
	}
	return s
}
