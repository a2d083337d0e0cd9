package devcluster

import (
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"
)

// childLogs is the logger handed to the supervisor. The supervisor logs a
// child's output lines through Named(child name): for the names in files,
// those lines are written verbatim to the child's own log file (a node's
// lines already carry their time and level), so nothing is interleaved on
// the terminal. Everything else goes to the embedded logger.
type childLogs struct {
	hclog.Logger
	files map[string]io.Writer
}

func (c childLogs) Named(name string) hclog.Logger {
	if w, ok := c.files[name]; ok {
		return rawLines{Logger: hclog.NewNullLogger(), w: w}
	}
	return c.Logger.Named(name)
}

// rawLines writes each Info (or Log) message as one line to w and drops
// the rest (the supervisor's debug notes about the pipe).
type rawLines struct {
	hclog.Logger
	w io.Writer
}

func (r rawLines) Info(msg string, _ ...interface{}) { fmt.Fprintln(r.w, msg) }

func (r rawLines) Log(_ hclog.Level, msg string, _ ...interface{}) { fmt.Fprintln(r.w, msg) }
