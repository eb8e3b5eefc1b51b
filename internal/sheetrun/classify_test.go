package sheetrun

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	rate := []*regexp.Regexp{regexp.MustCompile(`(?i)rate.?limit`), regexp.MustCompile(`\b429\b`), regexp.MustCompile(`(?i)limit reached`)}
	auth := []*regexp.Regexp{regexp.MustCompile(`(?i)invalid api key`), nil}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	nyReset := time.Date(2026, 11, 27, 15, 0, 0, 0, ny).Sub(now) // 3pm New York is 20:00 UTC
	epoch := now.Add(90 * time.Minute).Unix()

	for _, tc := range []struct {
		stdout, stderr string // stdout: the error channel of a structured result
		class          Class
		wait           time.Duration
	}{
		{"", "rate limit exceeded, try again in 30s", ClassRateLimited, 30 * time.Second},
		{"", "HTTP 429: retry after 120 seconds", ClassRateLimited, 120 * time.Second},
		{"", "429 Too Many Requests\nRetry-After: 60\n", ClassRateLimited, time.Minute},
		{"", "429 Too Many Requests\nRetry-After: Fri, 27 Nov 2026 12:05:00 GMT", ClassRateLimited, 5 * time.Minute},
		{"", "Rate limited. Please try again in 1m30s.", ClassRateLimited, 90 * time.Second},
		{"", "rate_limit_error: wait 2 minutes and 5 seconds", ClassRateLimited, 125 * time.Second},
		{"", "Rate limit reached. Please try again in 6.5s.", ClassRateLimited, 6500 * time.Millisecond},
		{"5-hour limit reached ∙ resets 3pm", "", ClassRateLimited, 3 * time.Hour},
		{"", "rate limit: resets at 11am", ClassRateLimited, 23 * time.Hour},
		{"", "rate limit: resets at 12:30 UTC", ClassRateLimited, 30 * time.Minute},
		{"Claude usage limit reached. Your limit will reset at 3pm (America/New_York).", "", ClassRateLimited, nyReset},
		{"", "rate limit; reset at 2026-11-27T15:04:05Z", ClassRateLimited, 3*time.Hour + 4*time.Minute + 5*time.Second},
		{"", "rate limit; resets at 2026-11-27 13:00:00+01:00", ClassRateLimited, 0},
		{"", "rate limit; resets at 2026-11-27 14:00:00+01:00", ClassRateLimited, time.Hour},
		{"", "rate limit; reset " + itoa(epoch), ClassRateLimited, 90 * time.Minute},
		{"Claude AI usage limit reached|" + itoa(epoch), "", ClassRateLimited, 90 * time.Minute},
		{"", "x-ratelimit-reset: " + itoa(epoch*1000), ClassRateLimited, 90 * time.Minute},
		{"", "rate limit; reset 1000000000", ClassRateLimited, 0}, // an epoch in the past says nothing
		{"", "rate limit exceeded", ClassRateLimited, 0},
		{"", "rate limit exceeded after 30 requests", ClassRateLimited, 0},
		// Auth wins even when the output also looks rate-limited.
		{"429 rate limit, try again in 30s", "Error: Invalid API key", ClassAuth, 0},
		{"", "segmentation fault; try again in 5s", ClassNone, 0},
	} {
		class, wait := Classify(tc.stdout, tc.stderr, rate, auth, now)
		if class != tc.class || wait != tc.wait {
			t.Errorf("stdout %q stderr %q: got %v %v, want %v %v", tc.stdout, tc.stderr, class, wait, tc.class, tc.wait)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The agent's answer never classifies a failure: only the error channel of
// its structured result and its stderr do.
func TestClassifyIgnoresTheAnswer(t *testing.T) {
	t.Parallel()
	rate := []*regexp.Regexp{regexp.MustCompile(`(?i)rate.?limit`), regexp.MustCompile(`\b429\b`), regexp.MustCompile(`(?i)usage limit`)}
	auth := []*regexp.Regexp{regexp.MustCompile(`(?i)authentication_failed`)}
	now := time.Unix(1789990000, 0)
	for _, tc := range []struct {
		file  string
		class Class
		wait  time.Duration
	}{
		{"claude-max-turns-ratelimiter.jsonl", ClassNone, 0},
		{"claude-usage-limit.jsonl", ClassRateLimited, 10000 * time.Second},
		{"codex-usage-limit.jsonl", ClassRateLimited, 2 * time.Hour},
	} {
		format := FormatClaudeJSON
		if tc.file[:5] == "codex" {
			format = FormatCodexJSONL
		}
		u, err := ParseOutput(format, "../../testdata/fakeagent/samples/"+tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if class, wait := Classify(u.ErrorText, "", rate, auth, now); class != tc.class || wait != tc.wait {
			t.Errorf("%s: got %v %v, want %v %v", tc.file, class, wait, tc.class, tc.wait)
		}
	}
}
