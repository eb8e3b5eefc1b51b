package jobs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mzt-dev/mzt/messages"
)

// maxCursor bounds the cursor a client sends: it is a timestamp and an id.
const maxCursor = 256

// listCursor names the oldest job of a page: the next page holds the jobs
// created before it (ids break ties of one timestamp).
func listCursor(j *messages.JobInfo) string {
	return strconv.FormatInt(j.GetCreatedAtUnixNano(), 10) + "/" + j.GetId()
}

// olderThan reports whether j sorts before the job the cursor names.
func olderThan(j *messages.JobInfo, nanos int64, id string) bool {
	c := j.GetCreatedAtUnixNano()
	return c < nanos || (c == nanos && j.GetId() < id)
}

// pageJobs cuts jobs (sorted oldest first, ties by id) to the newest limit
// older than cursor, still oldest first, and says how many older jobs are
// left and the cursor that lists them. limit 0 keeps every job.
func pageJobs(jobs []*messages.JobInfo, limit uint32, cursor string) (page []*messages.JobInfo, older int64, next string, err error) {
	if cursor != "" {
		if len(cursor) > maxCursor {
			return nil, 0, "", fmt.Errorf("cursor longer than %d bytes", maxCursor)
		}
		ns, id, ok := strings.Cut(cursor, "/")
		nanos, perr := strconv.ParseInt(ns, 10, 64)
		if !ok || perr != nil {
			return nil, 0, "", fmt.Errorf("cursor %q is not one mzt list printed", cursor)
		}
		end := 0
		for end < len(jobs) && olderThan(jobs[end], nanos, id) {
			end++
		}
		jobs = jobs[:end]
	}
	if limit == 0 || int(limit) >= len(jobs) {
		return jobs, 0, "", nil
	}
	start := len(jobs) - int(limit)
	return jobs[start:], int64(start), listCursor(jobs[start]), nil
}

// listPage is the answer to m: its page of jobs, or why the cursor is refused.
func listPage(jobs []*messages.JobInfo, m *messages.ListJobsRequest) any {
	sortJobs(jobs)
	page, older, next, err := pageJobs(jobs, m.GetLimit(), m.GetCursor())
	if err != nil {
		return messages.NewError(messages.ErrorCode_ERROR_CODE_BAD_REQUEST, "mzt list --all --limit N (and --cursor as printed)", "list jobs: %v", err)
	}
	return &messages.JobList{Jobs: page, Older: older, NextCursor: next}
}
