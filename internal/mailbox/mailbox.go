// Package mailbox holds the two ways an actor gets work done without
// blocking its mailbox: on a goroutine whose result comes back as a message
// (Go), and later, as a message to itself (After). Both turn a panic into an
// error message instead of a crash of the conductor.
package mailbox

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Sender delivers a message to an actor; the actor system's root context is one.
type Sender interface {
	Send(pid *actor.PID, message interface{})
}

// PanicError is a recovered panic. Its message is the panic's value only
// (it may reach a user); the stack is for the log.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Protect runs fn and returns its panic, if any, as a *PanicError; it
// returns nil when fn returned normally.
func Protect(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	fn()
	return nil
}

// Go runs work on a goroutine of its own and sends what it returns to to
// (nothing when it returns nil or to is nil). If work panics, failed(err) is
// sent instead; failed may be nil when there is nothing to say.
func Go(s Sender, to *actor.PID, work func() any, failed func(error) any) {
	go run(s, to, work, failed)
}

func run(s Sender, to *actor.PID, work func() any, failed func(error) any) {
	var out any
	if err := Protect(func() { out = work() }); err != nil {
		out = nil
		if failed != nil {
			out = failed(err)
		}
	}
	if out != nil && to != nil {
		s.Send(to, out)
	}
}

// Timer is a pending delayed message. A nil *Timer is a stopped one, so an
// actor can keep one in a field and Stop it unconditionally.
type Timer struct{ t *time.Timer }

// After sends msg to to once d has passed (at once when d <= 0).
func After(s Sender, to *actor.PID, d time.Duration, msg any) *Timer {
	return &Timer{t: time.AfterFunc(max(d, 0), func() { s.Send(to, msg) })}
}

// AfterGo runs work off the mailbox once d has passed, as Go does.
func AfterGo(s Sender, to *actor.PID, d time.Duration, work func() any, failed func(error) any) *Timer {
	return &Timer{t: time.AfterFunc(max(d, 0), func() { run(s, to, work, failed) })}
}

// Stop cancels the message if it was not sent yet; it reports whether it
// did. Safe on a nil Timer.
func (t *Timer) Stop() bool {
	if t == nil || t.t == nil {
		return false
	}
	return t.t.Stop()
}
