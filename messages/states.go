package messages

// The states a job, a sheet and a try can be in, and the kinds of events.
// They are stored and sent as their text; these types are what the code
// compares, so that a misspelt state is a compile error, not a silent miss.

// JobState is a job's status.
type JobState string

const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobPaused    JobState = "paused"
	JobCompleted JobState = "completed"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// JobStates lists every job state.
var JobStates = []JobState{JobQueued, JobRunning, JobPaused, JobCompleted, JobFailed, JobCancelled}

// Terminal reports whether a job never leaves the state by itself.
func (s JobState) Terminal() bool {
	return s == JobCompleted || s == JobFailed || s == JobCancelled
}

// Valid reports whether s is a known job state.
func (s JobState) Valid() bool { return contains(JobStates, s) }

// SheetState is a sheet's status.
type SheetState string

const (
	SheetPending   SheetState = "pending"
	SheetRunning   SheetState = "running"
	SheetWaiting   SheetState = "waiting" // in backoff or a rate-limit wait
	SheetCompleted SheetState = "completed"
	SheetFailed    SheetState = "failed"
	SheetSkipped   SheetState = "skipped"
	SheetCancelled SheetState = "cancelled"
)

// SheetStates lists every sheet state.
var SheetStates = []SheetState{SheetPending, SheetRunning, SheetWaiting, SheetCompleted, SheetFailed,
	SheetSkipped, SheetCancelled}

// Terminal reports whether a sheet is done within its run (a resume may
// still give a failed, skipped or cancelled sheet another budget).
func (s SheetState) Terminal() bool {
	return s == SheetCompleted || s == SheetFailed || s == SheetSkipped || s == SheetCancelled
}

// Valid reports whether s is a known sheet state.
func (s SheetState) Valid() bool { return contains(SheetStates, s) }

// AttemptOutcome is how one try of a sheet ended, as its attempt row records it.
type AttemptOutcome string

const (
	OutcomeCompleted   AttemptOutcome = "completed"
	OutcomeFailed      AttemptOutcome = "failed" // an ordinary or authentication failure
	OutcomeTimedOut    AttemptOutcome = "timed_out"
	OutcomeStalled     AttemptOutcome = "stalled" // stopped by on_stall = "retry"
	OutcomeRateLimited AttemptOutcome = "rate_limited"
	OutcomeInterrupted AttemptOutcome = "interrupted" // shutdown or preemption: runs again, no attempt used
	OutcomeCancelled   AttemptOutcome = "cancelled"
)

// AttemptOutcomes lists every outcome.
var AttemptOutcomes = []AttemptOutcome{OutcomeCompleted, OutcomeFailed, OutcomeTimedOut, OutcomeStalled,
	OutcomeRateLimited, OutcomeInterrupted, OutcomeCancelled}

// Valid reports whether o is a known outcome.
func (o AttemptOutcome) Valid() bool { return contains(AttemptOutcomes, o) }

// Succeeded reports whether the try completed its sheet.
func (o AttemptOutcome) Succeeded() bool { return o == OutcomeCompleted }

// EventKind is what an Event is about.
type EventKind string

const (
	EventJobStatus     EventKind = "job.status"
	EventSheetStatus   EventKind = "sheet.status"
	EventPressure      EventKind = "pressure"
	EventStall         EventKind = "stall" // status "stalled" or "resumed"
	EventAnomaly       EventKind = "anomaly"
	EventPreempt       EventKind = "preempt"        // critical pressure stopped a sheet (status "preempted")
	EventEventsDropped EventKind = "events.dropped" // a follower read too slowly
	EventBudget        EventKind = "budget"         // a job reached its budget and paused (status "paused")
	EventUsage         EventKind = "usage"          // a try reported its cost or tokens
	EventSheetAdopted  EventKind = "sheet.adopted"  // a new conductor took over a try still running
	EventSupervisor    EventKind = "supervisor"     // the conductor's supervisor died (status "lost"), was replaced ("restarted") or not ("none")
)

// EventKinds lists every event kind.
var EventKinds = []EventKind{EventJobStatus, EventSheetStatus, EventPressure, EventStall, EventAnomaly,
	EventPreempt, EventEventsDropped, EventBudget, EventUsage, EventSheetAdopted, EventSupervisor}

// Valid reports whether k is a known event kind.
func (k EventKind) Valid() bool { return contains(EventKinds, k) }

// Statuses of a stall event.
const (
	StallStalled = "stalled"
	StallResumed = "resumed"
)

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// State is the job's status as a JobState.
func (x *JobInfo) State() JobState { return JobState(x.GetStatus()) }

// State is the sheet's status as a SheetState.
func (x *SheetInfo) State() SheetState { return SheetState(x.GetStatus()) }

// EventKind is the event's kind as an EventKind.
func (x *Event) EventKind() EventKind { return EventKind(x.GetKind()) }
