package jobs

import (
	"fmt"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/config/instrument"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/messages"
)

// stopReason is why the conductor stopped a try before it ended by itself.
type stopReason string

const (
	stopNone      stopReason = ""
	stopCancel    stopReason = "cancel"      // the user cancelled the job
	stopInterrupt stopReason = "interrupt"   // the conductor is stopping
	stopPreempt   stopReason = "preempt"     // critical resource pressure
	stopStall     stopReason = "stall"       // stalled under on_stall = "retry"
	stopFence     stopReason = "fleet fence" // this fleet member's lease may end: run again, no attempt used
)

// verdictKind is what happens to a sheet after one of its tries.
type verdictKind int

const (
	verdictComplete      verdictKind = iota // the sheet completed
	verdictRetry                            // an attempt used; runs again after backoff (until)
	verdictRateLimitWait                    // no attempt used; runs again once the limit lifts (until)
	verdictFail                             // the sheet failed: attempts exhausted, auth, unrenderable, waited too long
	verdictRequeue                          // not the sheet's fault: pending again at once, no attempt used
	verdictCancelled                        // the job was cancelled
)

// tryEnd is everything that decides what a finished try means.
type tryEnd struct {
	attempts        int           // counted attempts the sheet used before this try
	rateLimitWaited time.Duration // rate-limit waits the sheet already sat out
	rateLimitStreak int           // rate-limit waits in a row before this try that named no reset time
	stage           *score.Stage  // attempts, backoff, max_rate_limit_wait
	profile         *instrument.Profile
	done            *attemptDone
	stop            stopReason
	stallNote       string  // why a stalled try was stopped
	jitter          float64 // in [0, 1): drawn by the caller so that the rule stays a function
	now             time.Time
}

// verdict is the decision about a finished try: the sheet's next state and
// what its attempt row records.
type verdict struct {
	kind    verdictKind
	sheet   messages.SheetState
	outcome messages.AttemptOutcome
	counted bool      // the try used one of the sheet's attempts
	err     string    // the sheet's error ("" when it completed)
	until   time.Time // when a retry or a rate-limit wait ends
	waited  time.Duration
	// attemptErr is what the attempt row says (cancel leaves it empty).
	attemptErr string
}

// judgeTry decides what a finished try means for its sheet. It only
// decides: the job actor applies the verdict (state, store, messages).
func judgeTry(in tryEnd) verdict {
	d, r := in.done, in.done.result
	switch {
	case in.stop == stopCancel:
		return verdict{kind: verdictCancelled, sheet: messages.SheetCancelled, outcome: messages.OutcomeCancelled,
			err: "cancelled"}
	case in.stop == stopInterrupt || in.stop == stopPreempt || in.stop == stopFence:
		why := "interrupted (" + string(in.stop) + ")"
		return verdict{kind: verdictRequeue, sheet: messages.SheetPending, outcome: messages.OutcomeInterrupted,
			err: why, attemptErr: why}
	case d.class == sheetrun.ClassAuth:
		why := "authentication failed: " + lastLine(r.StderrTail, d.usage.ErrorText)
		return verdict{kind: verdictFail, sheet: messages.SheetFailed, outcome: messages.OutcomeFailed,
			counted: true, err: why, attemptErr: why}
	case d.class == sheetrun.ClassRateLimited && !rateLimitSpent(in):
		wait := d.wait
		if wait <= 0 {
			wait = time.Duration(in.profile.Errors.RateLimitWait)
		}
		if limit := time.Duration(in.stage.MaxRateLimitWait); in.rateLimitWaited+wait > limit {
			why := fmt.Sprintf("rate limited for longer than max_rate_limit_wait (%s)", limit)
			var until time.Time
			if d.wait > 0 {
				// Say when it lifts, and keep it: a resume waits for it.
				until = in.now.Add(d.wait)
				why += fmt.Sprintf("; the limit resets at %s", until.UTC().Format(time.RFC3339))
			}
			return verdict{kind: verdictFail, sheet: messages.SheetFailed, outcome: messages.OutcomeRateLimited,
				err: why, attemptErr: why, until: until}
		}
		why := fmt.Sprintf("rate limited by %s; waiting %s", in.profile.Name, wait.Round(time.Second))
		return verdict{kind: verdictRateLimitWait, sheet: messages.SheetWaiting, outcome: messages.OutcomeRateLimited,
			err: why, attemptErr: why, until: in.now.Add(wait), waited: wait}
	}
	reason := failureReason(d)
	if in.stop == stopStall {
		reason = "stalled: " + in.stallNote
	}
	if d.class == sheetrun.ClassRateLimited {
		reason = fmt.Sprintf("rate limited %d times in a row with no reset time, counted as a try: %s",
			in.rateLimitStreak+1, lastLine(d.usage.ErrorText, r.StderrTail))
	}
	if reason == "" {
		return verdict{kind: verdictComplete, sheet: messages.SheetCompleted, outcome: messages.OutcomeCompleted,
			counted: true}
	}
	v := verdict{outcome: messages.OutcomeFailed, counted: true, err: reason, attemptErr: reason}
	switch {
	case in.stop == stopStall:
		v.outcome = messages.OutcomeStalled
	case r.TimedOut:
		v.outcome = messages.OutcomeTimedOut
	}
	used := in.attempts + 1
	switch {
	case d.unrenderable:
		// The same template with the same data fails the same way.
		v.kind, v.sheet = verdictFail, messages.SheetFailed
	case used >= in.stage.Attempts:
		v.kind, v.sheet = verdictFail, messages.SheetFailed
	default:
		v.kind, v.sheet = verdictRetry, messages.SheetWaiting
		v.until = in.now.Add(backoffDelay(in.stage.Backoff, used, in.jitter))
	}
	return v
}

// rateLimitSpent reports that a rate limit naming no reset time came after
// max_rate_limit_retries such waits in a row: a pattern matching by mistake
// must not retry for free without end, so this one counts as a try.
func rateLimitSpent(in tryEnd) bool {
	limit := in.profile.Errors.MaxRateLimitRetries
	return in.done.wait <= 0 && limit > 0 && in.rateLimitStreak >= limit
}

// failureReason says why an attempt failed, or "" when it succeeded.
func failureReason(d *attemptDone) string {
	r := d.result
	switch {
	case d.err != nil:
		return d.err.Error()
	case r.Err != nil:
		return r.Err.Error()
	case r.TimedOut:
		return fmt.Sprintf("timed out after %s", r.Ended.Sub(r.Started).Round(time.Second))
	case !r.Success:
		if r.Signal != "" {
			return "killed by signal " + r.Signal
		}
		msg := fmt.Sprintf("exit code %d", r.ExitCode)
		if e := errorSummary(d.usage.ErrorText); e != "" {
			// The structured result says what went wrong better than stderr.
			msg += ": " + e
		} else if tail := lastLine(r.StderrTail, ""); tail != "" {
			msg += ": " + tail
		}
		return msg
	case d.usage.IsError:
		if e := errorSummary(d.usage.ErrorText); e != "" {
			return "the instrument reported an error: " + e
		}
		return "the instrument reported an error: " + truncate(d.usage.Text, 200)
	}
	var failed []string
	for _, c := range d.checks {
		if !c.Passed {
			failed = append(failed, c.Type+": "+c.Detail)
		}
	}
	if len(failed) > 0 {
		return "validation failed: " + strings.Join(failed, "; ")
	}
	return ""
}

// errorSummary puts the lines of a structured result's error channel on one
// line ("error_max_turns; Reached maximum number of turns (3)").
func errorSummary(errorText string) string {
	var parts []string
	for l := range strings.SplitSeq(errorText, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return truncate(strings.Join(parts, "; "), 200)
}
