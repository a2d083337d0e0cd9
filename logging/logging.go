// Package logging builds the process's root hclog.Logger from the
// configured level and format. Subsystems take a named child of it:
//
//	log.Named("supervisor").Info("child exited", "name", "redis-server", "code", 0)
package logging

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// ErrLevel is returned (wrapped) for a level name that is not one of
// TRACE, DEBUG, INFO, WARN (or WARNING), ERROR.
var ErrLevel = errors.New("unknown log level")

// Levels lists the level names ParseLevel accepts, for help texts.
const Levels = "TRACE, DEBUG, INFO, WARN, ERROR"

// Options configures New.
type Options struct {
	// Level is a level name, case-insensitive: TRACE, DEBUG, INFO, WARN
	// (WARNING is accepted), ERROR. Empty means INFO. The shell version's
	// LOG_LEVEL=DEBUG keeps working.
	Level string
	// JSON selects one JSON object per line instead of hclog's text lines.
	JSON bool
	// Output receives the log lines; nil means os.Stderr.
	Output io.Writer
	// Redactor, when set, removes its secrets from every line before
	// Output gets it (the children's output is logged through the same
	// logger). Secrets added to it later are redacted from then on.
	Redactor *Redactor
}

// ParseLevel turns a level name (case-insensitive, surrounding spaces
// ignored) into an hclog.Level.
func ParseLevel(name string) (hclog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "TRACE":
		return hclog.Trace, nil
	case "DEBUG":
		return hclog.Debug, nil
	case "INFO":
		return hclog.Info, nil
	case "WARN", "WARNING":
		return hclog.Warn, nil
	case "ERROR":
		return hclog.Error, nil
	}
	return hclog.NoLevel, fmt.Errorf("%w %q: want one of %s", ErrLevel, name, Levels)
}

// New returns the root logger described by o. It has no name of its own,
// so that o.Named("supervisor") logs as "supervisor".
func New(o Options) (hclog.Logger, error) {
	level := hclog.Info
	if o.Level != "" {
		l, err := ParseLevel(o.Level)
		if err != nil {
			return nil, err
		}
		level = l
	}
	out := o.Output
	if out == nil {
		out = os.Stderr
	}
	if o.Redactor != nil {
		out = redactWriter{w: out, r: o.Redactor}
	}
	return hclog.New(&hclog.LoggerOptions{
		Level:      level,
		JSONFormat: o.JSON,
		Output:     out,
		Color:      hclog.ColorOff,
	}), nil
}
