package sheetrun

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Class is what a failed attempt's output says about why it failed.
type Class int

const (
	ClassNone        Class = iota // an ordinary failure: retried after backoff, uses an attempt
	ClassRateLimited              // wait for the limit to lift; does not use an attempt
	ClassAuth                     // credentials are wrong: fail at once, retrying cannot help
)

func (c Class) String() string {
	switch c {
	case ClassRateLimited:
		return "rate_limited"
	case ClassAuth:
		return "auth"
	}
	return "none"
}

// Classify looks at the error channel of a FAILED attempt: the error fields of its structured
// result (errorText, see Usage.ErrorText) and its stderr. Never at the agent's answer: an answer
// that talks about a "token-bucket rate limiter" is no rate limit. Auth patterns win over
// rate-limit patterns: an expired key often also yields a 429-looking message, and waiting would
// not fix it. For a rate limit it also tries to read when the limit resets and returns the wait
// from now (0 = the output does not say; the caller then uses the instrument's rate_limit_wait).
func Classify(errorText, stderrTail string, rateLimit, auth []*regexp.Regexp, now time.Time) (Class, time.Duration) {
	text := stderrTail + "\n" + errorText
	if matchAny(auth, text) {
		return ClassAuth, 0
	}
	if !matchAny(rateLimit, text) {
		return ClassNone, 0
	}
	return ClassRateLimited, ResetWait(text, now)
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re != nil && re.MatchString(s) {
			return true
		}
	}
	return false
}

var (
	// Retry-After: 60 (seconds) or an HTTP date.
	retryAfterRE = regexp.MustCompile(`(?i)\bretry-after"?\s*[:=]\s*"?(\d+|[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT)`)
	// "try again in 30s", "retry after 120 seconds", "resets in 2h 5m", "wait 1m30s".
	relativeRE = regexp.MustCompile(`(?i)\b(?:(?:try again|retry|retrying|resets?|available again)\s+(?:in|after)|wait(?:ing)?(?:\s+for)?)\s+(?:about |approximately |~)?(\d[^\n]{0,40})`)
	durPartRE  = regexp.MustCompile(`^\s*(?:,|and)?\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)`)
	// "reset at 2026-11-27T15:04:05Z", "resets 2026-11-27 15:04", "until 2026-11-27T15:04:05+01:00".
	isoRE = regexp.MustCompile(`(?i)\b(?:resets?|reset_at|resets_at|until|retry|available)\b[^0-9\n]{0,20}(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s?(?:Z|UTC|[+-]\d{2}:?\d{2})?)`)
	// "reset 1764255600", "x-ratelimit-reset: 1764255600", Claude's "limit reached|1764255600".
	unixRE = regexp.MustCompile(`(?i)(?:\b(?:resets?|reset_at|resets_at|ratelimit-reset)\b[^0-9\n]{0,20}|limit reached\|)(\d{13}|\d{10})\b`)
	// "resets at 3pm", "resets 3:30 pm (Europe/Paris)", "reset at 15:00 UTC".
	clockRE = regexp.MustCompile(`(?i)\bresets?\b(?:\s+at)?\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?(?:\s*\(?\s*(UTC|GMT|[A-Za-z_]+/[A-Za-z_/+-]+)\)?)?`)
)

// ResetWait reads a rate-limit reset time out of text and returns how long to wait from now, or
// 0 when text names none (or only one in the past, which means the guess is off). The last
// mention of each form wins, as the tail's latest message is the freshest; forms are tried from
// the most explicit (Retry-After) to the vaguest (a clock time without a date).
func ResetWait(text string, now time.Time) time.Duration {
	for _, parse := range []func(string, time.Time) time.Duration{
		retryAfterWait, relativeWait, isoWait, unixWait, clockWait,
	} {
		if d := parse(text, now); d > 0 {
			return d
		}
	}
	return 0
}

func lastMatch(re *regexp.Regexp, s string) []string {
	all := re.FindAllStringSubmatch(s, -1)
	if len(all) == 0 {
		return nil
	}
	return all[len(all)-1]
}

func retryAfterWait(text string, now time.Time) time.Duration {
	m := lastMatch(retryAfterRE, text)
	if m == nil {
		return 0
	}
	if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, m[1]); err == nil {
		return t.Sub(now)
	}
	return 0
}

func relativeWait(text string, _ time.Time) time.Duration {
	for _, m := range reverse(relativeRE.FindAllStringSubmatch(text, -1)) {
		if d := parseSpokenDuration(m[1]); d > 0 {
			return d
		}
	}
	return 0
}

// parseSpokenDuration reads "30s", "120 seconds", "1h30m", "2 minutes and 5 seconds", "6.5s"
// from the start of s. A bare number is seconds (as in Retry-After); a number followed by a
// word that is no time unit ("30 requests") is not a duration.
func parseSpokenDuration(s string) time.Duration {
	var total time.Duration
	for parts := 0; ; parts++ {
		m := durPartRE.FindStringSubmatch(s)
		if m == nil {
			return total
		}
		n, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return total
		}
		unit, ok := durationUnit(m[2])
		if !ok {
			// A bare number, unless it begins a date or clock time ("2026-11-27", "15:04").
			if parts == 0 && m[2] == "" && !strings.ContainsAny(s[len(m[0]):min(len(m[0])+1, len(s))], "-:/") {
				return time.Duration(n * float64(time.Second))
			}
			return total
		}
		total += time.Duration(n * float64(unit))
		s = s[len(m[0]):]
	}
}

func durationUnit(word string) (time.Duration, bool) {
	switch strings.ToLower(word) {
	case "ms", "msec", "msecs", "millisecond", "milliseconds":
		return time.Millisecond, true
	case "s", "sec", "secs", "second", "seconds":
		return time.Second, true
	case "m", "min", "mins", "minute", "minutes":
		return time.Minute, true
	case "h", "hr", "hrs", "hour", "hours":
		return time.Hour, true
	case "d", "day", "days":
		return 24 * time.Hour, true
	}
	return 0, false
}

func isoWait(text string, now time.Time) time.Duration {
	m := lastMatch(isoRE, text)
	if m == nil {
		return 0
	}
	s := strings.Replace(strings.TrimSpace(m[1]), " ", "T", 1)
	s = strings.Replace(strings.Replace(s, " UTC", "Z", 1), "UTC", "Z", 1)
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02T15:04Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Sub(now)
		}
	}
	// No zone written: the tool meant local time.
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t.Sub(now)
		}
	}
	return 0
}

func unixWait(text string, now time.Time) time.Duration {
	m := lastMatch(unixRE, text)
	if m == nil {
		return 0
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0
	}
	t := time.Unix(n, 0)
	if len(m[1]) == 13 {
		t = time.UnixMilli(n)
	}
	// Any ten-digit number is a plausible epoch; only one in the near future is taken for a reset.
	if d := t.Sub(now); d > 0 && d <= 31*24*time.Hour {
		return d
	}
	return 0
}

func clockWait(text string, now time.Time) time.Duration {
	for _, m := range reverse(clockRE.FindAllStringSubmatch(text, -1)) {
		hour, _ := strconv.Atoi(m[1])
		minute, _ := strconv.Atoi(m[2])
		ampm := strings.ToLower(m[3])
		if ampm == "" && m[2] == "" {
			continue // "resets 5" is no clock time
		}
		switch {
		case ampm != "" && (hour < 1 || hour > 12):
			continue
		case ampm == "pm" && hour != 12:
			hour += 12
		case ampm == "am" && hour == 12:
			hour = 0
		}
		if hour > 23 || minute > 59 {
			continue
		}
		loc := now.Location()
		switch z := m[4]; {
		case strings.EqualFold(z, "UTC"), strings.EqualFold(z, "GMT"):
			loc = time.UTC
		case z != "":
			if l, err := time.LoadLocation(z); err == nil {
				loc = l
			}
		}
		local := now.In(loc)
		t := time.Date(local.Year(), local.Month(), local.Day(), hour, minute, 0, 0, loc)
		if !t.After(now) {
			// Tools announce the next reset: a time already past today means tomorrow.
			t = time.Date(local.Year(), local.Month(), local.Day()+1, hour, minute, 0, 0, loc)
		}
		return t.Sub(now)
	}
	return 0
}

func reverse[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
