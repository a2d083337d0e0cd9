package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestRedactorForms(t *testing.T) {
	const pass = "pa ss\"word-one\nsecond-line"
	r := NewRedactor(pass, "", "abc")
	r.Add("late-added-secret")
	tests := []struct{ in, want string }{
		{"auth " + pass + " ok", "auth " + Redacted + " ok"},
		{`>>> 'sentinel auth-pass m pa ss"word-one'`, `>>> 'sentinel auth-pass m ` + Redacted + `'`},
		{"second-line", Redacted},
		{`requirepass "pa ss\"word-one\nsecond-line"`, `requirepass "` + Redacted + `"`},
		{"key=late-added-secret", "key=" + Redacted},
		{"abc is too short to redact", "abc is too short to redact"},
		{"nothing here", "nothing here"},
	}
	for _, tc := range tests {
		if got := r.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var nilR *Redactor
	if nilR.Redact("x") != "x" || (&Redactor{}).Redact("x") != "x" {
		t.Error("a nil or empty Redactor changed its input")
	}
}

// TestLoggerRedacts: text and JSON lines, messages and values.
func TestLoggerRedacts(t *testing.T) {
	const pass = "s3cr3t \"quoted\"\nnext-line"
	for _, js := range []bool{false, true} {
		var buf bytes.Buffer
		log, err := New(Options{Output: &buf, JSON: js, Redactor: NewRedactor(pass)})
		if err != nil {
			t.Fatal(err)
		}
		log.Info("child said: " + pass)
		log.Named("redis-sentinel").Info(`>>> 'sentinel auth-pass mymaster s3cr3t "quoted"'`)
		log.Warn("value", "password", pass)
		out := buf.String()
		for _, frag := range []string{"s3cr3t", "next-line", "quoted"} {
			if strings.Contains(out, frag) {
				t.Errorf("json=%t: log holds %q:\n%s", js, frag, out)
			}
		}
		if strings.Count(out, Redacted) < 3 {
			t.Errorf("json=%t: want a redaction on every line:\n%s", js, out)
		}
	}
}
