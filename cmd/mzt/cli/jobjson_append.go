package cli

import "strconv"

// appendIndented appends j exactly as indentedJSON (and so encoding/json
// with SetIndent(prefix, "  ")) encodes it, field by field without
// reflection: a history of 10,000 jobs is most of what `mzt list --all
// --json` spends. TestJobAppendIndentedMatchesEncodingJSON fills every
// field, so a field added to jobJSON and not here fails it.
func (j *jobJSON) appendIndented(dst []byte, prefix string) ([]byte, error) {
	if j.Sheets != nil { // a job's status: rare, and long anyway
		return indentedJSON(dst, *j, prefix)
	}
	e := jobAppender{dst: append(dst, '{'), field: ",\n" + prefix + "  "}
	e.str(`"id": `, j.ID)
	e.str(`"name": `, j.Name)
	e.str(`"status": `, j.Status)
	e.str(`"score_path": `, j.ScorePath)
	e.str(`"workspace": `, j.Workspace)
	e.strPtr(`"created_at": `, j.CreatedAt)
	e.strPtr(`"started_at": `, j.StartedAt)
	e.strPtr(`"finished_at": `, j.FinishedAt)
	e.int(`"sheets_total": `, j.SheetsTotal)
	e.int(`"sheets_completed": `, j.SheetsCompleted)
	e.int(`"sheets_failed": `, j.SheetsFailed)
	e.int(`"run": `, j.Run)
	e.str(`"error": `, j.Error)
	e.floatPtr(`"eta_seconds": `, j.ETASeconds)
	e.floatPtr(`"eta_low_seconds": `, j.ETALowSeconds)
	e.floatPtr(`"eta_high_seconds": `, j.ETAHighSeconds)
	e.int(`"sheets_stalled": `, j.SheetsStalled)
	e.floatPtr(`"cost_usd": `, j.CostUSD)
	e.intPtr(`"input_tokens": `, j.InputTokens)
	e.intPtr(`"output_tokens": `, j.OutputTokens)
	e.floatPtr(`"max_cost_usd": `, j.MaxCostUSD)
	e.floatPtr(`"cost_estimate_usd": `, j.CostEstimateUSD)
	e.floatPtr(`"cost_estimate_low_usd": `, j.CostEstimateLowUSD)
	e.floatPtr(`"cost_estimate_high_usd": `, j.CostEstimateHighUSD)
	if j.PauseReason != "" {
		e.str(`"pause_reason": `, j.PauseReason)
	}
	e.str(`"group": `, j.Group)
	e.int(`"priority": `, j.Priority)
	e.key(`"waiting_for": `)
	switch {
	case j.WaitingFor == nil:
		e.dst = append(e.dst, "null"...)
	case len(j.WaitingFor) == 0:
		e.dst = append(e.dst, "[]"...)
	default:
		e.dst = append(e.dst, '[')
		for i, id := range j.WaitingFor {
			if i > 0 {
				e.dst = append(e.dst, ',')
			}
			e.dst = appendJSONString(append(e.dst, e.field[1:]+"  "...), id)
		}
		e.dst = append(append(e.dst, e.field[1:]...), ']')
	}
	return append(append(e.dst, e.field[1:len(e.field)-2]...), '}'), e.err
}

// jobAppender writes the fields of one object at depth 1.
type jobAppender struct {
	dst   []byte
	field string // ",\n" and the indent of a field
	n     int
	err   error
}

func (e *jobAppender) key(key string) {
	sep := e.field
	if e.n == 0 {
		sep = sep[1:]
	}
	e.n++
	e.dst = append(append(e.dst, sep...), key...)
}

func (e *jobAppender) str(key, v string) {
	e.key(key)
	e.dst = appendJSONString(e.dst, v)
}

func (e *jobAppender) strPtr(key string, v *string) {
	if v == nil {
		e.key(key)
		e.dst = append(e.dst, "null"...)
		return
	}
	e.str(key, *v)
}

func (e *jobAppender) int(key string, v int64) {
	e.key(key)
	e.dst = strconv.AppendInt(e.dst, v, 10)
}

func (e *jobAppender) intPtr(key string, v *int64) {
	if v == nil {
		e.key(key)
		e.dst = append(e.dst, "null"...)
		return
	}
	e.int(key, *v)
}

func (e *jobAppender) floatPtr(key string, v *float64) {
	e.key(key)
	if v == nil {
		e.dst = append(e.dst, "null"...)
		return
	}
	var err error
	if e.dst, err = appendJSONFloat(e.dst, *v); err != nil && e.err == nil {
		e.err = err
	}
}
