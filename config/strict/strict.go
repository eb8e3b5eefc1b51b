// Package strict decodes TOML configuration files (scores, instrument profiles,
// conductor.toml) so that nothing a user writes is silently ignored: unknown keys,
// keys in the wrong case, values of the wrong type and bare numbers where a
// duration is expected are all reported, each with file:line:col and, for a
// misspelt key, the closest valid one.
//
// It owns only decoding and the shape of a problem report; what a valid value
// is belongs to the packages that use it. It must never print or exit.
package strict

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File      string
	Line, Col int    // 1-based; 0 when unknown
	Key       string // dotted key path such as "stage[1].attempts", "" when not about a key
	Msg       string
}

// String renders the problem as "file:line:col: msg", leaving out what is unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
	}
	if p.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(p.Line))
		if p.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Col))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one or more files. It is an error so that
// callers can return it as is and still get at each problem with errors.As.
type Problems []Problem

// Error lists one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by file, then position, so that reports read top to
// bottom like the file. Problems without a line come last within their file.
func (ps Problems) Sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := cmp.Compare(a.File, b.File); c != 0 {
			return c
		}
		al, bl := a.Line, b.Line
		if al == 0 {
			al = int(^uint(0) >> 1)
		}
		if bl == 0 {
			bl = int(^uint(0) >> 1)
		}
		if c := cmp.Compare(al, bl); c != 0 {
			return c
		}
		return cmp.Compare(a.Col, b.Col)
	})
}

// Decode decodes TOML data into v strictly: unknown keys, type mismatches and syntax errors
// are all reported. file is only used in messages.
//
// The error, when not nil, is always Problems. Unknown keys do not stop decoding,
// so v is fully populated when they are the only problems; after a syntax or type
// error v may be partly filled and must not be trusted.
func Decode(file string, data []byte, v any) error {
	err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(v)
	if err != nil && isSyntaxError(data) {
		// A document that does not parse has nothing more to say than where it breaks.
		return Problems{fromDecodeError(file, err)}
	}

	// go-toml stops at the first type error and folds key case, so a schema walk
	// of the document finds what it cannot: every type error, "Attempts" for
	// "attempts", and integers where a duration string is expected (which it
	// would otherwise store as nanoseconds).
	w := walk(data, typeOf(v))
	var ps Problems
	for _, f := range w.findings {
		ps = append(ps, Problem{File: file, Line: f.line, Col: f.col, Key: f.path, Msg: f.msg})
	}
	at := func(line, col int) bool {
		return slices.ContainsFunc(ps, func(p Problem) bool { return p.Line == line && p.Col == col })
	}

	var missing *toml.StrictMissingError
	var decodeErr *toml.DecodeError
	switch {
	case err == nil:
	case errors.As(err, &missing):
		for _, e := range missing.Errors {
			line, col := e.Position()
			if at(line, col) {
				continue
			}
			// The walk reports every unknown key it can resolve; this is a fallback,
			// and go-toml's key path is approximate inside inline tables.
			parts := e.Key()
			p := Problem{File: file, Line: line, Col: col, Key: strings.Join(parts, "."), Msg: "unknown key"}
			if n := len(parts); n > 0 {
				p.Msg = unknownKeyMsg(parts[n-1], candidatesFor(typeOf(v), parts[:n-1]))
			}
			ps = append(ps, p)
		}
	case errors.As(err, &decodeErr):
		line, _ := decodeErr.Position()
		// The walk words type errors better; keep go-toml's only for what it missed.
		if !slices.ContainsFunc(ps, func(p Problem) bool { return p.Line == line }) {
			ps = append(ps, fromDecodeError(file, err))
		}
	default:
		// Errors without a position come from UnmarshalText on a non-string value,
		// which the walk reports with its position.
		if len(ps) == 0 {
			ps = append(ps, Problem{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ")})
		}
	}
	if len(ps) == 0 {
		return nil
	}
	ps.Sort()
	return ps
}

func fromDecodeError(file string, err error) Problem {
	p := Problem{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		p.Line, p.Col = de.Position()
		p.Key = strings.Join(de.Key(), ".")
	}
	return p
}

func unknownKeyMsg(key string, candidates []string) string {
	msg := fmt.Sprintf("unknown key %q", key)
	if s := Suggest(key, candidates); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}
