package jobs

import (
	"regexp"
	"sort"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

// validGroupName keeps names short and printable: they show in tables.
var validGroupName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// onGroupRequest adds, removes or lists groups; a change is stored before
// it is answered and takes effect at once.
func (a *Actor) onGroupRequest(ctx actor.Context, m *messages.GroupRequest) {
	if !a.queue.loaded {
		// Answered once the stored groups are read: not from an empty table.
		a.queue.parkedGroups = append(a.queue.parkedGroups, parkedGroup{req: m, sender: ctx.Sender()})
		return
	}
	name := m.GetName()
	switch m.GetAction() {
	case messages.GroupAction_GROUP_ACTION_LIST:
		ctx.Respond(a.groupList())
		return
	case messages.GroupAction_GROUP_ACTION_ADD:
		if !validGroupName.MatchString(name) {
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_SCORE, "",
				"group name %q: use letters, digits, '_', '.' and '-' (at most 64)", name))
			return
		}
		if m.GetParallel() < 1 || m.GetParallel() > 1_000_000 {
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_SCORE, "",
				"--parallel %d: a group runs between 1 and 1000000 jobs at once", m.GetParallel()))
			return
		}
		ctx.Send(a.deps.Store, &store.Write{Op: &store.SaveGroup{Group: store.Group{Name: name, Parallel: int(m.GetParallel())}},
			ReplyTo: ctx.Self(), Tag: &groupWritten{req: m, sender: ctx.Sender()}})
	case messages.GroupAction_GROUP_ACTION_REMOVE:
		if _, ok := a.queue.groups[name]; !ok {
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "mzt group list", "group %s does not exist", name))
			return
		}
		for id, e := range a.jobs {
			if e.queue.group == name && !e.info.State().Terminal() {
				ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_REFUSED, "mzt cancel --all --group "+name,
					"group %s has unfinished jobs (%s)", name, id))
				return
			}
		}
		ctx.Send(a.deps.Store, &store.Write{Op: &store.DeleteGroup{Name: name},
			ReplyTo: ctx.Self(), Tag: &groupWritten{req: m, sender: ctx.Sender()}})
	default:
		ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_BAD_REQUEST, "", "unknown group action %v", m.GetAction()))
	}
}

// parkedGroup is a group request that came before the groups were read.
type parkedGroup struct {
	req    *messages.GroupRequest
	sender *actor.PID
}

type groupWritten struct {
	req    *messages.GroupRequest
	sender *actor.PID
}

func (a *Actor) onGroupWritten(ctx actor.Context, tag *groupWritten, done *store.WriteDone) {
	if done.Err != nil {
		ctx.Send(tag.sender, messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "check free disk space under "+a.deps.Paths.Home,
			"group %s was not changed: %v", tag.req.GetName(), done.Err))
		return
	}
	if tag.req.GetAction() == messages.GroupAction_GROUP_ACTION_REMOVE {
		delete(a.queue.groups, tag.req.GetName())
	} else {
		a.queue.groups[tag.req.GetName()] = int(tag.req.GetParallel())
	}
	ctx.Send(tag.sender, a.groupList())
	a.admitNext(ctx)
}

func (a *Actor) groupList() *messages.GroupList {
	out := &messages.GroupList{}
	for name, n := range a.queue.groups {
		g := &messages.GroupInfo{Name: name, Parallel: int64(n)}
		for _, e := range a.jobs {
			if e.queue.group != name {
				continue
			}
			switch e.info.State() {
			case messages.JobRunning:
				g.Running++
			case messages.JobQueued:
				g.Queued++
			}
		}
		out.Groups = append(out.Groups, g)
	}
	sort.Slice(out.Groups, func(i, k int) bool { return out.Groups[i].Name < out.Groups[k].Name })
	return out
}
