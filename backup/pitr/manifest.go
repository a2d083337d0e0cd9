package pitr

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/etc"
)

// The AOF manifest (Redis 7 multi-part AOF, appendonlydir/<name>.manifest):
// one line per file, "file NAME seq N type T", where T is b (base), h
// (history: about to be deleted) or i (incr). Keys may come in any order;
// a NAME with spaces or odd bytes is quoted as Redis's sdscatrepr writes it.
// Lines starting with '#' are comments. Redis 7.4+ adds keys (startoffset,
// endoffset) which are kept as they are.

// File types of a manifest line.
const (
	TypeBase    = 'b'
	TypeHistory = 'h'
	TypeIncr    = 'i'
)

// Bounds of what ParseManifest accepts (a manifest holds a few lines; Redis
// itself refuses lines over 1 KiB).
const (
	MaxManifestSize = 1 << 20
	maxManifestLine = 4096
)

// ErrManifest: the manifest cannot be parsed.
var ErrManifest = errors.New("invalid AOF manifest")

// ManifestFile is one line of a manifest.
type ManifestFile struct {
	Name string
	Seq  int64
	Type byte
	// Extra holds keys this parser does not know, in order, as key/value
	// pairs, so a manifest written back keeps them.
	Extra []string
}

// Manifest is a parsed AOF manifest: at most one base, then incr files in
// sequence order (history files anywhere).
type Manifest struct {
	Files []ManifestFile
}

// Base returns the base file, if any.
func (m Manifest) Base() (ManifestFile, bool) {
	for _, f := range m.Files {
		if f.Type == TypeBase {
			return f, true
		}
	}
	return ManifestFile{}, false
}

// Incrs returns the incr files in manifest order (the order Redis loads
// them: by sequence).
func (m Manifest) Incrs() []ManifestFile {
	var out []ManifestFile
	for _, f := range m.Files {
		if f.Type == TypeIncr {
			out = append(out, f)
		}
	}
	return out
}

// ParseManifest reads a manifest of at most MaxManifestSize bytes.
func ParseManifest(r io.Reader) (Manifest, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxManifestSize+1), 4096)
	var m Manifest
	var total int
	bases := 0
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		total += len(line) + 1
		if total > MaxManifestSize+1 {
			return Manifest{}, fmt.Errorf("%w: longer than %d bytes", ErrManifest, MaxManifestSize)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Manifest{}, fmt.Errorf("%w: line %d: %w", ErrManifest, lineNo, err)
		}
		if t := strings.TrimSpace(line); t != "" && t[0] != '#' {
			f, perr := parseManifestLine(t)
			if perr != nil {
				return Manifest{}, fmt.Errorf("%w: line %d: %w", ErrManifest, lineNo, perr)
			}
			if f.Type == TypeBase {
				bases++
			}
			m.Files = append(m.Files, f)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if bases > 1 {
		return Manifest{}, fmt.Errorf("%w: %d base files (at most one)", ErrManifest, bases)
	}
	return m, nil
}

var errLongLine = fmt.Errorf("line longer than %d bytes", maxManifestLine)

// readLine returns the next line without its newline; io.EOF with the last
// (possibly empty) line.
func readLine(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		chunk, err := br.ReadSlice('\n')
		if b.Len()+len(chunk) > maxManifestLine+1 {
			return "", errLongLine
		}
		b.Write(chunk)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		s := strings.TrimSuffix(strings.TrimSuffix(b.String(), "\n"), "\r")
		return s, err
	}
}

func parseManifestLine(line string) (ManifestFile, error) {
	args, err := etc.SplitArgs(line)
	if err != nil {
		return ManifestFile{}, err
	}
	if len(args)%2 != 0 {
		return ManifestFile{}, errors.New("odd number of words (want key value pairs)")
	}
	f := ManifestFile{Seq: -1}
	for i := 0; i < len(args); i += 2 {
		k, v := args[i], args[i+1]
		switch k {
		case "file":
			f.Name = v
		case "seq":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return ManifestFile{}, fmt.Errorf("seq %q is not a non-negative integer", v)
			}
			f.Seq = n
		case "type":
			if len(v) != 1 || !strings.Contains("bhi", v) {
				return ManifestFile{}, fmt.Errorf("type %q is not b, h or i", v)
			}
			f.Type = v[0]
		default:
			f.Extra = append(f.Extra, k, v)
		}
	}
	switch {
	case f.Name == "":
		return ManifestFile{}, errors.New("no file name")
	case strings.ContainsAny(f.Name, "/\x00") || f.Name == "." || f.Name == "..":
		return ManifestFile{}, fmt.Errorf("file name %q is not a plain name inside appendonlydir", f.Name)
	case f.Seq < 0:
		return ManifestFile{}, errors.New("no seq")
	case f.Type == 0:
		return ManifestFile{}, errors.New("no type")
	}
	return f, nil
}

// String writes the manifest as Redis does.
func (m Manifest) String() string {
	var b strings.Builder
	for _, f := range m.Files {
		fmt.Fprintf(&b, "file %s seq %d type %c", quoteArg(f.Name), f.Seq, f.Type)
		for i := 0; i+1 < len(f.Extra); i += 2 {
			fmt.Fprintf(&b, " %s %s", quoteArg(f.Extra[i]), quoteArg(f.Extra[i+1]))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
