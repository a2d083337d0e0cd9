package etc

import (
	"errors"
	"net"
	"strings"
)

// Quote returns s as a double-quoted string in Redis's config syntax
// (sdssplitargs): backslash and double quote are escaped, control and
// non-ASCII bytes written as \xHH. SplitArgs reads it back unchanged.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			const hex = "0123456789abcdef"
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ErrUnbalancedQuotes is returned by SplitArgs for a line Redis would reject.
var ErrUnbalancedQuotes = errors.New("unbalanced quotes")

// SplitArgs splits one config line into arguments the way Redis does
// (sdssplitargs): blanks separate, "double quotes" take \n \r \t \b \a \xHH
// and \<char> escapes, 'single quotes' take only \'.
func SplitArgs(line string) ([]string, error) {
	var args []string
	i := 0
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i == len(line) {
			return args, nil
		}
		var cur strings.Builder
		n, err := scanArg(line[i:], &cur)
		if err != nil {
			return nil, err
		}
		args = append(args, cur.String())
		i += n
	}
}

// scanArg reads one argument from s into out and returns how many bytes it used.
func scanArg(s string, out *strings.Builder) (int, error) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == 0 && isBlank(c):
			return i, nil
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote != 0 && c == quote:
			// a closing quote must be followed by a blank or the end
			if i+1 < len(s) && !isBlank(s[i+1]) {
				return 0, ErrUnbalancedQuotes
			}
			return i + 1, nil
		case quote == '"' && c == '\\' && i+1 < len(s):
			i += unescape(s[i+1:], out)
		case quote == '\'' && c == '\\' && i+1 < len(s) && s[i+1] == '\'':
			out.WriteByte('\'')
			i++
		default:
			out.WriteByte(c)
		}
	}
	if quote != 0 {
		return 0, ErrUnbalancedQuotes
	}
	return len(s), nil
}

// unescape writes the escape that starts s (after the backslash) and
// returns how many bytes of s it used.
func unescape(s string, out *strings.Builder) int {
	if len(s) >= 3 && s[0] == 'x' && isHex(s[1]) && isHex(s[2]) {
		out.WriteByte(unhex(s[1])<<4 | unhex(s[2]))
		return 3
	}
	switch s[0] {
	case 'n':
		out.WriteByte('\n')
	case 'r':
		out.WriteByte('\r')
	case 't':
		out.WriteByte('\t')
	case 'b':
		out.WriteByte('\b')
	case 'a':
		out.WriteByte('\a')
	default:
		out.WriteByte(s[0])
	}
	return 1
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func isIP(s string) bool { return net.ParseIP(s) != nil }

// isName accepts a master name or a DNS host name: [A-Za-z0-9._-]+.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') ||
			(c|0x20 >= 'a' && c|0x20 <= 'z')) {
			return false
		}
	}
	return true
}
