package jobs

import (
	"errors"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config/instrument"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/config/strict"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/messages"
)

func TestJudgeTry(t *testing.T) {
	now := time.Unix(1_760_000_000, 0)
	yes, no := true, false
	stage := &score.Stage{ID: "s", Settings: score.Settings{Attempts: 3, MaxRateLimitWait: strict.Duration(time.Hour),
		Backoff: &score.Backoff{Base: strict.Duration(10 * time.Second), Max: strict.Duration(time.Minute), Factor: 2, Jitter: &no}}}
	jittery := *stage
	jittery.Backoff = &score.Backoff{Base: strict.Duration(10 * time.Second), Max: strict.Duration(time.Minute), Factor: 2, Jitter: &yes}
	profile := &instrument.Profile{Name: "claude-code"}
	profile.Errors.RateLimitWait = strict.Duration(5 * time.Minute)
	profile.Errors.MaxRateLimitRetries = 5

	ok := sheetrun.Result{Success: true, Started: now.Add(-time.Minute), Ended: now}
	exit3 := sheetrun.Result{ExitCode: 3, Started: now.Add(-time.Minute), Ended: now, StderrTail: "boom\n"}
	timedOut := sheetrun.Result{TimedOut: true, Started: now.Add(-90 * time.Second), Ended: now}
	killed := sheetrun.Result{Canceled: true, Signal: "terminated", Started: now.Add(-time.Minute), Ended: now}
	authOut := sheetrun.Result{ExitCode: 1, StderrTail: "401 invalid api key\n", Started: now, Ended: now}

	cases := []struct {
		name        string
		in          tryEnd
		kind        verdictKind
		sheet       messages.SheetState
		outcome     messages.AttemptOutcome
		counted     bool
		err         string
		until       time.Time
		waited      time.Duration
		attemptErr  string
		attemptsCap int // 0: stage.Attempts
	}{
		{name: "success completes the sheet",
			in:   tryEnd{done: &attemptDone{result: ok}},
			kind: verdictComplete, sheet: messages.SheetCompleted, outcome: messages.OutcomeCompleted, counted: true},
		{name: "a failed try is counted and retried after backoff",
			in:   tryEnd{done: &attemptDone{result: exit3}},
			kind: verdictRetry, sheet: messages.SheetWaiting, outcome: messages.OutcomeFailed, counted: true,
			err: "exit code 3: boom", attemptErr: "exit code 3: boom", until: now.Add(10 * time.Second)},
		{name: "backoff grows with the attempts used",
			in:   tryEnd{attempts: 1, done: &attemptDone{result: exit3}},
			kind: verdictRetry, sheet: messages.SheetWaiting, outcome: messages.OutcomeFailed, counted: true,
			err: "exit code 3: boom", attemptErr: "exit code 3: boom", until: now.Add(20 * time.Second)},
		{name: "jitter takes up to half of the backoff off",
			in:   tryEnd{stage: &jittery, jitter: 0, done: &attemptDone{result: exit3}},
			kind: verdictRetry, sheet: messages.SheetWaiting, outcome: messages.OutcomeFailed, counted: true,
			err: "exit code 3: boom", attemptErr: "exit code 3: boom", until: now.Add(5 * time.Second)},
		{name: "attempts exhausted fail the sheet",
			in:   tryEnd{attempts: 2, done: &attemptDone{result: exit3}},
			kind: verdictFail, sheet: messages.SheetFailed, outcome: messages.OutcomeFailed, counted: true,
			err: "exit code 3: boom", attemptErr: "exit code 3: boom"},
		{name: "a failed validation is a counted failure",
			in: tryEnd{done: &attemptDone{result: ok, checks: []sheetrun.CheckResult{
				{Type: "file_exists", Passed: true, Detail: "a"}, {Type: "content_contains", Passed: false, Detail: "out.txt lacks DONE"}}}},
			kind: verdictRetry, sheet: messages.SheetWaiting, outcome: messages.OutcomeFailed, counted: true,
			err: "validation failed: content_contains: out.txt lacks DONE", attemptErr: "validation failed: content_contains: out.txt lacks DONE",
			until: now.Add(10 * time.Second)},
		{name: "a timeout is counted, recorded as timed_out",
			in:   tryEnd{done: &attemptDone{result: timedOut}},
			kind: verdictRetry, sheet: messages.SheetWaiting, outcome: messages.OutcomeTimedOut, counted: true,
			err: "timed out after 1m30s", attemptErr: "timed out after 1m30s", until: now.Add(10 * time.Second)},
		{name: "a stall stopped under on_stall retry is counted, recorded as stalled",
			in:   tryEnd{stop: stopStall, stallNote: "no output for 15m", done: &attemptDone{result: killed}},
			kind: verdictRetry, sheet: messages.SheetWaiting, outcome: messages.OutcomeStalled, counted: true,
			err: "stalled: no output for 15m", attemptErr: "stalled: no output for 15m", until: now.Add(10 * time.Second)},
		{name: "a stall on the last attempt fails the sheet",
			in:   tryEnd{attempts: 2, stop: stopStall, stallNote: "no output", done: &attemptDone{result: killed}},
			kind: verdictFail, sheet: messages.SheetFailed, outcome: messages.OutcomeStalled, counted: true,
			err: "stalled: no output", attemptErr: "stalled: no output"},
		{name: "a rate limit waits the parsed reset without using an attempt",
			in:   tryEnd{done: &attemptDone{result: exit3, class: sheetrun.ClassRateLimited, wait: 90 * time.Second}},
			kind: verdictRateLimitWait, sheet: messages.SheetWaiting, outcome: messages.OutcomeRateLimited,
			err: "rate limited by claude-code; waiting 1m30s", attemptErr: "rate limited by claude-code; waiting 1m30s",
			until: now.Add(90 * time.Second), waited: 90 * time.Second},
		{name: "a rate limit without a reset waits the instrument's rate_limit_wait",
			in:   tryEnd{done: &attemptDone{result: exit3, class: sheetrun.ClassRateLimited}},
			kind: verdictRateLimitWait, sheet: messages.SheetWaiting, outcome: messages.OutcomeRateLimited,
			err: "rate limited by claude-code; waiting 5m0s", attemptErr: "rate limited by claude-code; waiting 5m0s",
			until: now.Add(5 * time.Minute), waited: 5 * time.Minute},
		{name: "a rate limit beyond max_rate_limit_wait fails the sheet",
			in:   tryEnd{rateLimitWaited: 58 * time.Minute, done: &attemptDone{result: exit3, class: sheetrun.ClassRateLimited}},
			kind: verdictFail, sheet: messages.SheetFailed, outcome: messages.OutcomeRateLimited,
			err: "rate limited for longer than max_rate_limit_wait (1h0m0s)", attemptErr: "rate limited for longer than max_rate_limit_wait (1h0m0s)"},
		{name: "a rate limit beyond max_rate_limit_wait says when the limit resets, and keeps it",
			in:   tryEnd{done: &attemptDone{result: exit3, class: sheetrun.ClassRateLimited, wait: 5 * time.Hour}},
			kind: verdictFail, sheet: messages.SheetFailed, outcome: messages.OutcomeRateLimited,
			err:        "rate limited for longer than max_rate_limit_wait (1h0m0s); the limit resets at 2025-10-09T13:53:20Z",
			attemptErr: "rate limited for longer than max_rate_limit_wait (1h0m0s); the limit resets at 2025-10-09T13:53:20Z",
			until:      now.Add(5 * time.Hour)},
		{name: "rate limits with no reset time are free up to max_rate_limit_retries in a row",
			in:   tryEnd{rateLimitStreak: 4, done: &attemptDone{result: exit3, class: sheetrun.ClassRateLimited}},
			kind: verdictRateLimitWait, sheet: messages.SheetWaiting, outcome: messages.OutcomeRateLimited,
			err: "rate limited by claude-code; waiting 5m0s", attemptErr: "rate limited by claude-code; waiting 5m0s",
			until: now.Add(5 * time.Minute), waited: 5 * time.Minute},
		{name: "past max_rate_limit_retries a rate limit with no reset time counts as a try",
			in:   tryEnd{rateLimitStreak: 5, done: &attemptDone{result: exit3, class: sheetrun.ClassRateLimited}},
			kind: verdictRetry, sheet: messages.SheetWaiting, outcome: messages.OutcomeFailed, counted: true,
			err:        "rate limited 6 times in a row with no reset time, counted as a try: boom",
			attemptErr: "rate limited 6 times in a row with no reset time, counted as a try: boom",
			until:      now.Add(10 * time.Second)},
		{name: "past max_rate_limit_retries the last attempt fails the sheet",
			in:   tryEnd{attempts: 2, rateLimitStreak: 9, done: &attemptDone{result: exit3, class: sheetrun.ClassRateLimited}},
			kind: verdictFail, sheet: messages.SheetFailed, outcome: messages.OutcomeFailed, counted: true,
			err:        "rate limited 10 times in a row with no reset time, counted as a try: boom",
			attemptErr: "rate limited 10 times in a row with no reset time, counted as a try: boom"},
		{name: "a rate limit that names its reset stays free after a streak",
			in:   tryEnd{rateLimitStreak: 9, done: &attemptDone{result: exit3, class: sheetrun.ClassRateLimited, wait: time.Minute}},
			kind: verdictRateLimitWait, sheet: messages.SheetWaiting, outcome: messages.OutcomeRateLimited,
			err: "rate limited by claude-code; waiting 1m0s", attemptErr: "rate limited by claude-code; waiting 1m0s",
			until: now.Add(time.Minute), waited: time.Minute},
		{name: "an auth failure fails at once, whatever attempts are left",
			in:   tryEnd{done: &attemptDone{result: authOut, class: sheetrun.ClassAuth}},
			kind: verdictFail, sheet: messages.SheetFailed, outcome: messages.OutcomeFailed, counted: true,
			err: "authentication failed: 401 invalid api key", attemptErr: "authentication failed: 401 invalid api key"},
		{name: "preemption requeues without using an attempt",
			in:   tryEnd{stop: stopPreempt, done: &attemptDone{result: killed}},
			kind: verdictRequeue, sheet: messages.SheetPending, outcome: messages.OutcomeInterrupted,
			err: "interrupted (preempt)", attemptErr: "interrupted (preempt)"},
		{name: "a fleet member's fence requeues without using an attempt, even with none left",
			in:   tryEnd{attempts: 3, stop: stopFence, done: &attemptDone{result: killed}},
			kind: verdictRequeue, sheet: messages.SheetPending, outcome: messages.OutcomeInterrupted,
			err: "interrupted (fleet fence)", attemptErr: "interrupted (fleet fence)"},
		{name: "a shutdown interrupt requeues without using an attempt",
			in:   tryEnd{attempts: 2, stop: stopInterrupt, done: &attemptDone{result: killed}},
			kind: verdictRequeue, sheet: messages.SheetPending, outcome: messages.OutcomeInterrupted,
			err: "interrupted (interrupt)", attemptErr: "interrupted (interrupt)"},
		{name: "an interrupt before the process started requeues too",
			in:   tryEnd{stop: stopInterrupt, done: &attemptDone{}},
			kind: verdictRequeue, sheet: messages.SheetPending, outcome: messages.OutcomeInterrupted,
			err: "interrupted (interrupt)", attemptErr: "interrupted (interrupt)"},
		{name: "cancel wins over whatever the try did",
			in:   tryEnd{stop: stopCancel, done: &attemptDone{result: authOut, class: sheetrun.ClassAuth}},
			kind: verdictCancelled, sheet: messages.SheetCancelled, outcome: messages.OutcomeCancelled, err: "cancelled"},
		{name: "a sheet that cannot be rendered fails at once with the reason",
			in: tryEnd{done: &attemptDone{err: &score.TemplateError{Name: "stage s prompt", Line: 1, Col: 3, Msg: `map has no entry for key "nope"`},
				unrenderable: true}},
			kind: verdictFail, sheet: messages.SheetFailed, outcome: messages.OutcomeFailed, counted: true,
			err:        `template stage s prompt:1:3: map has no entry for key "nope"`,
			attemptErr: `template stage s prompt:1:3: map has no entry for key "nope"`},
		{name: "a try that could not start is a counted failure",
			in:   tryEnd{done: &attemptDone{err: errors.New("instrument claude: not found on PATH")}},
			kind: verdictRetry, sheet: messages.SheetWaiting, outcome: messages.OutcomeFailed, counted: true,
			err: "instrument claude: not found on PATH", attemptErr: "instrument claude: not found on PATH", until: now.Add(10 * time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			if in.stage == nil {
				in.stage = stage
			}
			in.profile, in.now = profile, now
			v := judgeTry(in)
			want := verdict{kind: c.kind, sheet: c.sheet, outcome: c.outcome, counted: c.counted, err: c.err,
				until: c.until, waited: c.waited, attemptErr: c.attemptErr}
			if v != want {
				t.Fatalf("got  %+v\nwant %+v", v, want)
			}
			if !v.sheet.Valid() || !v.outcome.Valid() {
				t.Fatalf("invalid state %q or outcome %q", v.sheet, v.outcome)
			}
		})
	}
}
