package jobs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

// maxCursor bounds the cursor a client sends: it is a timestamp and an id.
const maxCursor = 256

// listCursor names the oldest job of a page: the next page holds the jobs
// created before it (ids break ties of one timestamp).
func listCursor(j *messages.JobInfo) string {
	return strconv.FormatInt(j.GetCreatedAtUnixNano(), 10) + "/" + j.GetId()
}

// parseCursor reads a cursor listCursor made.
func parseCursor(cursor string) (nanos int64, id string, err error) {
	if len(cursor) > maxCursor {
		return 0, "", fmt.Errorf("cursor longer than %d bytes", maxCursor)
	}
	ns, id, ok := strings.Cut(cursor, "/")
	nanos, perr := strconv.ParseInt(ns, 10, 64)
	if !ok || perr != nil {
		return 0, "", fmt.Errorf("cursor %q is not one mzt list printed", cursor)
	}
	return nanos, id, nil
}

// olderThan reports whether j sorts before the job the cursor names.
func olderThan(j *messages.JobInfo, nanos int64, id string) bool {
	c := j.GetCreatedAtUnixNano()
	return c < nanos || (c == nanos && j.GetId() < id)
}

// pageJobs cuts jobs (sorted oldest first, ties by id) to the newest limit
// older than cursor, still oldest first, and says how many older jobs are
// left and the cursor that lists them. limit 0 keeps every job. hidden
// counts jobs older than every one given that the caller left out (the
// store returned only the newest limit finished ones): they are older too.
func pageJobs(jobs []*messages.JobInfo, limit uint32, cursor string, hidden int64) (page []*messages.JobInfo, older int64, next string, err error) {
	if cursor != "" {
		nanos, id, err := parseCursor(cursor)
		if err != nil {
			return nil, 0, "", err
		}
		end := 0
		for end < len(jobs) && olderThan(jobs[end], nanos, id) {
			end++
		}
		jobs = jobs[:end]
	}
	if limit == 0 || int(limit) >= len(jobs) {
		if hidden == 0 || len(jobs) == 0 {
			return jobs, 0, "", nil
		}
		return jobs, hidden, listCursor(jobs[0]), nil
	}
	start := len(jobs) - int(limit)
	return jobs[start:], int64(start) + hidden, listCursor(jobs[start]), nil
}

// finishedQuery is what the store must read for m: with a limit, only the
// newest finished jobs that could be on the page.
func finishedQuery(m *messages.ListJobsRequest, exclude []string) (store.FinishedQuery, error) {
	q := store.FinishedQuery{Limit: int(m.GetLimit()), Exclude: exclude}
	if m.GetCursor() != "" {
		nanos, id, err := parseCursor(m.GetCursor())
		if err != nil {
			return q, err
		}
		q.Before, q.BeforeNanos, q.BeforeID = true, nanos, id
	}
	return q, nil
}

// listPage is the answer to m: its page of the active jobs and finished ones
// (the newest of total, when the store was asked for a page), or why the
// cursor is refused.
func listPage(active, finished []*messages.JobInfo, total int, m *messages.ListJobsRequest) any {
	jobs := append(active, finished...)
	sortJobs(jobs)
	page, older, next, err := pageJobs(jobs, m.GetLimit(), m.GetCursor(), int64(total-len(finished)))
	if err != nil {
		return badCursor(err)
	}
	return &messages.JobList{Jobs: page, Older: older, NextCursor: next}
}

func badCursor(err error) *messages.Error {
	return messages.NewError(messages.ErrorCode_ERROR_CODE_BAD_REQUEST, "mzt list --all --limit N (and --cursor as printed)", "list jobs: %v", err)
}
