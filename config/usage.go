package config

import (
	"fmt"
	"io"
)

// Usage writes every setting, grouped, with its flag, default and meaning.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Configuration (environment variables; the flag form overrides them):")
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s\n", g)
		for i := range settings {
			if s := &settings[i]; s.Group == g {
				writeSetting(w, s)
			}
		}
	}
	fmt.Fprintln(w, "\nDurations take Go syntax (24h, 2s, 500ms) or whole seconds (60).")
}

func writeSetting(w io.Writer, s *setting) {
	flag := ", --" + s.Flag()
	if s.Secret {
		flag = " (secret: environment only)"
	}
	def := s.Default
	if def == "" {
		def = "unset"
	}
	fmt.Fprintf(w, "  %s%s [default: %s]\n      %s\n", s.Env, flag, def, s.Help)
	if s.Secret {
		fmt.Fprintf(w, "  %s%s [default: unset]\n      %s\n", s.Env, FileSuffix, fileHelp(s.Env))
	}
}

// fileHelp is the help of a secret's *_FILE variable.
func fileHelp(env string) string {
	return "File holding " + env + " (one trailing newline dropped), e.g. a Docker secret; not together with " + env + "."
}

// Vars returns every environment variable the configuration reads, in
// help order.
func Vars() []string {
	var out []string
	for _, s := range settings {
		out = append(out, s.Env)
		if s.Secret {
			out = append(out, s.Env+FileSuffix)
		}
	}
	return out
}
