package strict

import (
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration written in configuration files as a Go duration
// string ("30s", "1h30m"). A bare number is refused by Decode rather than read
// as nanoseconds.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: write a number and a unit such as \"30s\", \"10m\" or \"1h30m\"", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the shortest form that reads back the same ("30m", not "30m0s").
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String is the duration as written in files: "30m", "6h", "1h0m30s", "1.5s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
