package tryjournal

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Exit is a try's exit record: the code as a shell reports it (above 128:
// killed by signal code-128) and when the supervisor saw it.
type Exit struct {
	Code  int
	Ended time.Time
}

// AppendExit records that the try whose exit file would be named name
// ended with code.
func AppendExit(path, name string, code int, ended time.Time) error {
	return Append(path, name, []byte(strconv.Itoa(code)+" "+strconv.FormatInt(ended.UnixMilli(), 10)))
}

// ParseExit reads an exit record's payload.
func ParseExit(payload []byte) (Exit, error) {
	code, ms, _ := strings.Cut(string(payload), " ")
	c, err := strconv.Atoi(code)
	if err != nil {
		return Exit{}, fmt.Errorf("exit record %q: %w", payload, err)
	}
	e := Exit{Code: c}
	if n, err := strconv.ParseInt(ms, 10, 64); err == nil && n > 0 {
		e.Ended = time.UnixMilli(n)
	}
	return e, nil
}

// FindExit returns the exit record of name in the exits journal at path.
func FindExit(path, name string) (Exit, bool) {
	b, ok, err := Find(path, name)
	if err != nil || !ok {
		return Exit{}, false
	}
	e, err := ParseExit(b)
	return e, err == nil
}

// ReadExits returns every exit record of the journal at path, by name
// (the records named *.exit).
func ReadExits(path string) map[string]Exit {
	out := map[string]Exit{}
	// What could be read: a try whose exit is not found is run again.
	_ = scan(path, func(n string, b []byte) {
		if !strings.HasSuffix(n, ".exit") {
			return
		}
		if e, err := ParseExit(b); err == nil {
			out[n] = e
		}
	})
	return out
}
