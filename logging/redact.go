package logging

import (
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Redacted replaces every secret a Redactor finds.
const Redacted = "[redacted]"

// minRedact is the shortest form of a secret that is redacted: shorter
// ones (the last line of a multi-line secret, say) would blank out
// ordinary words of every log line.
const minRedact = 4

// Redactor removes secret values from text before it is logged: the
// children's output (a sentinel refusing its config echoes the line
// holding auth-pass) and every log line, whatever wrote it. It is built
// from a list, and Add takes more, so a subsystem that holds a secret of
// its own (a store's access key, an encryption key) adds it once and
// it is redacted everywhere. Safe for concurrent use; the zero value
// redacts nothing.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	forms   map[string]bool
	r       *strings.Replacer
}

// NewRedactor returns a Redactor of secrets (empty ones are skipped).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds secrets to redact from now on.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.forms == nil {
		r.forms = make(map[string]bool)
	}
	for _, s := range secrets {
		for _, f := range forms(s) {
			if len(f) >= minRedact {
				r.forms[f] = true
			}
		}
	}
	olds := make([]string, 0, len(r.forms))
	for f := range r.forms {
		olds = append(olds, f)
	}
	// Longest first: a secret's whole form wins over its lines.
	sort.Slice(olds, func(i, j int) bool {
		if len(olds[i]) != len(olds[j]) {
			return len(olds[i]) > len(olds[j])
		}
		return olds[i] < olds[j]
	})
	pairs := make([]string, 0, 2*len(olds))
	for _, f := range olds {
		pairs = append(pairs, f, Redacted)
	}
	r.r = strings.NewReplacer(pairs...)
}

// Redact returns s with every form of every secret replaced by Redacted.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep := r.r
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// forms are the ways secret can appear in a log line: as is; escaped as
// Redis echoes a config line or a reply, as Go's %q and hclog's quoted
// values, and as JSON; and, for a secret of several lines (a PEM key, a
// password with a newline), each line, since programs log line by line.
func forms(secret string) []string {
	if secret == "" {
		return nil
	}
	bases := []string{secret}
	for _, l := range strings.FieldsFunc(secret, func(c rune) bool { return c == '\n' || c == '\r' }) {
		bases = append(bases, l, strings.TrimSpace(l))
	}
	var out []string
	for _, b := range bases {
		out = append(out, b, redisEscape(b), strings.Trim(strconv.Quote(b), `"`))
		if j, err := json.Marshal(b); err == nil {
			out = append(out, strings.Trim(string(j), `"`))
		}
	}
	return out
}

// redisEscape is how Redis's sdscatrepr writes s, without the quotes.
func redisEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if c < 0x20 || c >= 0x7f {
				const hex = "0123456789abcdef"
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// redactWriter redacts each Write; hclog writes one whole log line per
// Write, so a secret is never split across two.
type redactWriter struct {
	w io.Writer
	r *Redactor
}

func (w redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.w, w.r.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
