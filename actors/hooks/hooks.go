// Package hooks runs hooks: the commands and URL posts a score's [hooks]
// and conductor.toml's [[hooks]] ask for when a job ends or an event
// happens. A hook is stored before it runs and marked done after, so one
// that was due when the conductor stopped runs after it starts; a hook that
// fails is logged and raised as a hook.failed event, never changing the
// outcome of the job it is about.
package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/messages"
)

// EventHookFailed is the kind of the event a failed hook raises.
const EventHookFailed = "hook.failed"

const (
	maxRunning  = 4  // hooks at once; the rest wait their turn in the store
	scanBatch   = 64 // due hooks read per scan
	postBackoff = 500 * time.Millisecond
)

// Deps wire the hooks actor.
type Deps struct {
	DB        *store.DB
	Store     *actor.PID
	Hooks     []config.Hook // the conductor's, for the events they name
	KillGrace time.Duration
	Tracker   *reaper.Tracker // hook processes are the reaper's as sheets are
	Cgroups   *cgroup.Tree    // nil where cgroup v2 cannot be used
	Home      string          // names this conductor's hook tokens
	Log       *slog.Logger
}

// Reconfigure gives the actor the conductor's [[hooks]] after a reload.
type Reconfigure struct{ Hooks []config.Hook }

// Actor runs due hooks, at most maxRunning at once.
type Actor struct {
	deps   Deps
	client *http.Client
	ctx    context.Context // ends when the actor stops: running hooks are interrupted
	cancel context.CancelFunc
	sub    *eventstream.Subscription

	busy     map[int64]bool // running, or being marked done
	scanning bool
	rescan   bool
	cleaning bool // leftovers of hooks cut off by a crash are being killed
}

type (
	scanned struct {
		rows []store.HookRow
		err  error
	}
	hookFinished struct {
		row store.HookRow
		err error
	}
	hookMarked struct{ id int64 }
	queued     struct{}
	cleaned    struct{}
)

// Props builds the hooks actor.
func Props(deps Deps) *actor.Props {
	if deps.Tracker == nil {
		deps.Tracker = reaper.NewTracker()
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{deps: deps, busy: map[int64]bool{}, client: &http.Client{
			// A hook posts where it was told, not where an answer points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	})
}

func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.ctx, a.cancel = context.WithCancel(context.Background())
		a.subscribe(ctx)
		a.killLeftovers(ctx)
	case *actor.Stopping:
		a.cancel()
		if a.sub != nil {
			ctx.ActorSystem().EventStream.Unsubscribe(a.sub)
		}
	case *store.HooksDue, *queued:
		a.scan(ctx)
	case *cleaned:
		a.cleaning = false
		a.scan(ctx)
	case *scanned:
		a.onScanned(ctx, m)
	case *hookFinished:
		a.onFinished(ctx, m)
	case *messages.Event:
		a.onEvent(ctx, m)
	case *Reconfigure:
		// The subscription filters on the hooks: it follows them.
		ctx.ActorSystem().EventStream.Unsubscribe(a.sub)
		a.deps.Hooks = m.Hooks
		a.subscribe(ctx)
	case *store.WriteDone:
		switch tag := m.Tag.(type) {
		case *hookMarked:
			delete(a.busy, tag.id)
			if m.Err != nil {
				a.deps.Log.Error("mark a hook done; it may run again", "hook", tag.id, "err", m.Err)
			}
			a.scan(ctx)
		case *queued:
			if m.Err != nil {
				a.deps.Log.Error("store a due hook; it does not run", "err", m.Err)
				return
			}
			if q, ok := m.Op.(*store.QueueHooks); ok && q.Dropped > 0 {
				a.deps.Log.Warn("too many hooks waiting; dropped the hooks of an event", "dropped", q.Dropped,
					"max_due", store.MaxDueHooks)
			}
			a.scan(ctx)
		}
	}
}

// subscribe forwards pokes and the events conductor hooks name to this
// actor (the callback runs on the publisher's goroutine: it only sends).
func (a *Actor) subscribe(ctx actor.Context) {
	root, self, hooks := ctx.ActorSystem().Root, ctx.Self(), a.deps.Hooks
	a.sub = ctx.ActorSystem().EventStream.Subscribe(func(ev any) {
		switch m := ev.(type) {
		case *store.HooksDue:
			root.Send(self, m)
		case *messages.Event:
			if event := hookEvent(m); event != "" && anyWants(hooks, event) {
				root.Send(self, m)
			}
		}
	})
}

// scan reads due hooks off the mailbox; a scan asked for while one runs
// follows it.
func (a *Actor) scan(ctx actor.Context) {
	if a.deps.DB == nil {
		return
	}
	if a.scanning || a.cleaning {
		a.rescan = true
		return
	}
	a.scanning = true
	db := a.deps.DB
	mailbox.Go(ctx.ActorSystem().Root, ctx.Self(), func() any {
		qctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rows, err := db.DueHooks(qctx, scanBatch)
		return &scanned{rows: rows, err: err}
	}, func(err error) any { return &scanned{err: err} })
}

func (a *Actor) onScanned(ctx actor.Context, m *scanned) {
	a.scanning = false
	if m.err != nil {
		a.deps.Log.Error("read due hooks", "err", m.err)
	}
	for _, row := range m.rows {
		if len(a.busy) >= maxRunning {
			break // the next finished hook scans again
		}
		if a.busy[row.ID] {
			continue
		}
		a.busy[row.ID] = true
		a.start(ctx, row)
	}
	if a.rescan {
		a.rescan = false
		a.scan(ctx)
	}
}

func (a *Actor) start(ctx actor.Context, row store.HookRow) {
	a.deps.Log.Info("running hook", "hook", row.ID, "job", row.JobID, "event", row.Event)
	hctx, client, grace, tracker, prefix := a.ctx, a.client, a.deps.KillGrace, a.deps.Tracker, a.tokenPrefix()
	cgroups := a.deps.Cgroups
	mailbox.Go(ctx.ActorSystem().Root, ctx.Self(), func() any {
		var err error
		if row.URL != "" {
			err = post(hctx, client, row, postBackoff)
		} else {
			err = runCommand(hctx, row, grace, tracker, prefix+strconv.FormatInt(row.ID, 10), cgroups)
		}
		return &hookFinished{row: row, err: err}
	}, func(err error) any { return &hookFinished{row: row, err: err} })
}

func (a *Actor) onFinished(ctx actor.Context, m *hookFinished) {
	row := m.row
	if a.ctx.Err() != nil {
		return // interrupted by a stop: still due, it runs after the next start
	}
	why := ""
	if m.err != nil {
		why = m.err.Error()
		target := row.Run
		if row.URL != "" {
			target = row.URL
		}
		a.deps.Log.Warn("hook failed", "hook", row.ID, "job", row.JobID, "event", row.Event, "hook_target", target, "err", m.err)
		ctx.ActorSystem().EventStream.Publish(&messages.Event{Kind: EventHookFailed, JobId: row.JobID,
			Status: "failed", Detail: row.Event + ": " + why})
	}
	ctx.Send(a.deps.Store, &store.Write{Op: &store.HookDone{ID: row.ID, Err: why}, ReplyTo: ctx.Self(),
		Tag: &hookMarked{id: row.ID}})
}

// onEvent stores the conductor hooks an event makes due; they run once
// stored.
func (a *Actor) onEvent(ctx actor.Context, ev *messages.Event) {
	event := hookEvent(ev)
	env := map[string]string{"MZT_EVENT": event, "MZT_JOB_ID": ev.GetJobId(), "MZT_EVENT_STATUS": ev.GetStatus(),
		"MZT_EVENT_DETAIL": ev.GetDetail()}
	if ev.GetSheet() > 0 {
		env["MZT_SHEET"] = strconv.FormatInt(ev.GetSheet(), 10)
	}
	body, _ := json.Marshal(struct {
		Schema string `json:"schema"`
		Event  string `json:"event"`
		JobID  string `json:"job_id"`
		Sheet  int64  `json:"sheet,omitempty"`
		Status string `json:"status"`
		Detail string `json:"detail"`
		Time   string `json:"time"`
	}{"mzt/v1", event, ev.GetJobId(), ev.GetSheet(), ev.GetStatus(), ev.GetDetail(),
		time.Unix(0, ev.GetTimeUnixNano()).UTC().Format(time.RFC3339Nano)})
	var rows []store.HookRow
	for _, h := range a.deps.Hooks {
		if h.Wants(event) {
			rows = append(rows, store.HookRow{JobID: ev.GetJobId(), Event: event, Run: h.Run, URL: h.URL,
				Env: env, Body: string(body), Timeout: h.TimeoutOrDefault(), Created: time.Now()})
		}
	}
	if len(rows) > 0 {
		ctx.Send(a.deps.Store, &store.Write{Op: &store.QueueHooks{Hooks: rows}, ReplyTo: ctx.Self(), Tag: &queued{}})
	}
}

// hookEvent names an event as [[hooks]] on does; "" for events no hook
// can name (job ends are made due with the job's final state instead).
func hookEvent(ev *messages.Event) string {
	switch messages.EventKind(ev.GetKind()) {
	case messages.EventSheetStatus:
		if ev.GetStatus() == string(messages.SheetFailed) {
			return "sheet.failed"
		}
	case messages.EventStall:
		if ev.GetStatus() == "stalled" {
			return "stall"
		}
	case messages.EventPressure:
		return "pressure"
	case "budget":
		return "budget"
	}
	return ""
}

func anyWants(hooks []config.Hook, event string) bool {
	for _, h := range hooks {
		if h.Wants(event) {
			return true
		}
	}
	return false
}

// tokenPrefix starts the token of every hook process of this conductor; it
// is its home's, so that clones never touch each other's hooks.
func (a *Actor) tokenPrefix() string {
	h := fnv.New64a()
	h.Write([]byte(a.deps.Home))
	return fmt.Sprintf("hook-%x/", h.Sum64())
}

// killLeftovers kills what hooks cut off by a crash left running (they run
// again, being still due); scans wait for it.
func (a *Actor) killLeftovers(ctx actor.Context) {
	a.cleaning = true
	prefix, grace, log := a.tokenPrefix(), a.deps.KillGrace, a.deps.Log
	mailbox.Go(ctx.ActorSystem().Root, ctx.Self(), func() any {
		left := reaper.FindLeftovers([]string{prefix})
		for _, l := range left {
			log.Warn("killing a process left by a hook cut off by a crash", "pid", l.PID, "token", l.Token)
		}
		reaper.KillLeftovers(left, grace)
		return &cleaned{}
	}, func(err error) any {
		log.Error("look for leftovers of hooks", "err", err)
		return &cleaned{}
	})
}
