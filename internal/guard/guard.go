// Package guard turns panics into errors at the edge of the goroutines
// that talk to peers, so that PID 1 outlives whatever a peer sends.
//
// recover works only in a function deferred directly, so the helpers here
// are meant to be deferred themselves:
//
//	defer guard.Catch(&err, "ask sentinel "+addr)
package guard

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
)

// ErrPanic is wrapped by every *PanicError.
var ErrPanic = errors.New("panic")

// PanicError is a recovered panic: where, the value, and the stack.
type PanicError struct {
	What  string // what was being done: "ask sentinel 10.0.0.2:26379"
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("%s: %s: %v", e.What, ErrPanic, e.Value) }

// Unwrap makes errors.Is(err, ErrPanic) true.
func (e *PanicError) Unwrap() error { return ErrPanic }

// Catch, deferred, turns a panic into a *PanicError in *err.
func Catch(err *error, what string) {
	if r := recover(); r != nil {
		*err = &PanicError{What: what, Value: r, Stack: debug.Stack()}
	}
}

// Log, deferred, logs a panic as an ERROR with msg, args and the stack,
// and lets the goroutine end normally.
func Log(log hclog.Logger, msg string, args ...any) {
	if r := recover(); r != nil {
		log.Error(msg, append(args, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))...)
	}
}

// testPanic is set by a build with the panictest tag (testpanic.go).
var testPanic func(where string)

// TestPoint does nothing, except in a build with the panictest tag that
// was told to panic at where (see testpanic.go).
func TestPoint(where string) {
	if testPanic != nil {
		testPanic(where)
	}
}
