package guard

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestCatch(t *testing.T) {
	f := func() (err error) {
		defer Catch(&err, "ask sentinel 192.0.2.1:26379")
		var s []int
		_ = s[3] // index out of range
		return nil
	}
	err := f()
	var pe *PanicError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPanic) || len(pe.Stack) == 0 {
		t.Fatalf("Catch gave %v, want a *PanicError with a stack", err)
	}
	if !strings.Contains(err.Error(), "ask sentinel 192.0.2.1:26379: panic: runtime error: index out of range") {
		t.Errorf("error %q does not say what panicked", err)
	}
	ok := func() (err error) {
		defer Catch(&err, "nothing")
		return errors.New("plain")
	}
	if err := ok(); err == nil || err.Error() != "plain" {
		t.Errorf("Catch changed an error without a panic: %v", err)
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer Log(log, "sentinel events panicked", "sentinel", "192.0.2.1:26379")
		panic("boom")
	}()
	<-done
	if s := buf.String(); !strings.Contains(s, "[ERROR] sentinel events panicked: sentinel=192.0.2.1:26379 panic=boom") || !strings.Contains(s, "guard_test.go") {
		t.Errorf("log %q does not report the panic with its stack", s)
	}
}
