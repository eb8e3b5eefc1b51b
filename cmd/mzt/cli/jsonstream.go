package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/mzt-dev/mzt/messages"
)

// jsonWithArray writes, as printJSON would, the object head with one more
// field, key, holding n items, and then the fields of tail. Each item is
// encoded on its own into a reused buffer and written out as it goes: a
// history of 10,000 jobs or a job of 10,000 sheets is never indented as one
// document (re-indenting a multi-megabyte buffer cost more than encoding it).
// head and tail must encode as JSON objects; tail may be nil.
func jsonWithArray(w io.Writer, head any, key string, n int, item func(i int) any, tail any) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	headJSON, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	body, ok := bytes.CutSuffix(headJSON, []byte("}"))
	if !ok || body[0] != '{' {
		return fmt.Errorf("write JSON: %T is not an object", head)
	}
	body = bytes.TrimRight(body, "\n")
	bw.Write(body)
	if len(body) > 1 { // fields before the array
		bw.WriteByte(',')
	}
	keyJSON, _ := json.Marshal(key)
	bw.WriteString("\n  ")
	bw.Write(keyJSON)
	bw.WriteString(": ")
	if n == 0 {
		bw.WriteString("[]")
	} else {
		bw.WriteString("[\n")
		var buf []byte
		for i := range n {
			v := item(i)
			if a, ok := v.(indentedAppender); ok {
				buf, err = a.appendIndented(buf[:0], "    ")
			} else {
				buf, err = indentedJSON(buf[:0], v, "    ")
			}
			if err != nil {
				return fmt.Errorf("write JSON: %w", err)
			}
			bw.WriteString("    ")
			bw.Write(buf)
			if i < n-1 {
				bw.WriteByte(',')
			}
			bw.WriteByte('\n')
		}
		bw.WriteString("  ]")
	}
	if tail != nil {
		tailJSON, err := json.MarshalIndent(tail, "", "  ")
		if err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
		// "{\n  \"a\": 1\n}" -> ",\n  \"a\": 1"; "{}" adds nothing.
		if fields := bytes.TrimSuffix(bytes.TrimPrefix(tailJSON, []byte("{")), []byte("\n}")); len(fields) > 1 {
			bw.WriteByte(',')
			bw.Write(fields)
		}
	}
	bw.WriteString("\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// indentedAppender is an item that encodes itself as indentedJSON would,
// faster.
type indentedAppender interface {
	appendIndented(dst []byte, prefix string) ([]byte, error)
}

// printJobStatusJSON prints what jobStatusJSON holds, its sheets streamed.
func (g *Globals) printJobStatusJSON(st *messages.JobStatus) error {
	sheets := st.GetSheets()
	return jsonWithArray(g.env.Stdout, struct {
		Schema string `json:"schema"`
		jobJSON
	}{schema, toJobJSON(st.GetJob())}, "sheets", len(sheets), func(i int) any { return toSheetJSON(sheets[i]) }, nil)
}

// printJobListJSON prints a page of jobs as `mzt list --json` does.
func (g *Globals) printJobListJSON(list *messages.JobList) error {
	jobs := list.GetJobs()
	return jsonWithArray(g.env.Stdout, struct {
		Schema string `json:"schema"`
	}{schema}, "jobs", len(jobs), func(i int) any {
		j := toJobJSON(jobs[i])
		return &j
	}, struct {
		Older      int64  `json:"older,omitempty"`
		NextCursor string `json:"next_cursor,omitempty"`
	}{list.GetOlder(), list.GetNextCursor()})
}
