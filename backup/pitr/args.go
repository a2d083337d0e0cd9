package pitr

import "github.com/autopilotpattern/redis-autopilot/etc"

// quoteArg writes s as Redis writes a manifest's file name: plain unless
// it needs quoting (Redis's sdsneedsrepr: empty, or any byte that is not
// printable, a space, a quote or a backslash), then double-quoted.
func quoteArg(s string) string {
	needs := s == ""
	for i := 0; i < len(s) && !needs; i++ {
		c := s[i]
		needs = c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\'
	}
	if !needs {
		return s
	}
	return etc.Quote(s)
}
