// Package sheetrun runs one attempt of a sheet as a real process and judges it: it starts the
// instrument in its own process group with the workspace as cwd, streams stdout/stderr straight to
// files, enforces timeout and cancellation (SIGTERM to the group, SIGKILL after a grace period),
// then checks the sheet's validations, classifies failures (rate limit, auth) and parses usage
// reports out of the instrument's output.
//
// It owns no state and no retry policy: callers (the sheet actor) decide what a Result means.
// Everything here runs in goroutines started by actors, so it must never panic out, never block
// past its context, and never hold a sheet's whole output in memory.
package sheetrun
