package messages

import (
	"fmt"
	"testing"
)

func TestBrief(t *testing.T) {
	sheets := func(n int, odd map[int]*SheetInfo) []*SheetInfo {
		out := make([]*SheetInfo, n)
		for i := range out {
			out[i] = &SheetInfo{Num: int64(i + 1), Status: string(SheetCompleted)}
			if s := odd[i+1]; s != nil {
				s.Num = int64(i + 1)
				out[i] = s
			}
		}
		return out
	}
	small := &JobStatus{Sheets: sheets(BriefSheets, map[int]*SheetInfo{3: {Status: string(SheetFailed)}})}
	if got := Brief(small); got != small {
		t.Fatal("a job of 100 sheets was cut")
	}
	big := &JobStatus{Job: &JobInfo{Id: "j"}, Sheets: sheets(1000, map[int]*SheetInfo{
		2: {Status: string(SheetFailed)}, 3: {Status: string(SheetRunning)}, 4: {Status: string(SheetPending)},
		5: {Status: string(SheetCompleted), Stalled: true}, 6: {Status: string(SheetSkipped), Notes: []string{"n"}},
		7: {Status: string(SheetSkipped)}, 8: {Status: string(SheetWaiting)}, 9: {Status: string(SheetCancelled)},
	})}
	got := Brief(big)
	var nums []int64
	for _, s := range got.GetSheets() {
		nums = append(nums, s.GetNum())
	}
	if fmt.Sprint(nums) != "[2 3 5 6 8 9]" {
		t.Fatalf("brief lists sheets %v, want the six that need a look", nums)
	}
	want := map[string]int64{"completed": 992, "pending": 1, "skipped": 1}
	if fmt.Sprint(got.GetQuiet()) != fmt.Sprint(want) {
		t.Fatalf("quiet = %v, want %v", got.GetQuiet(), want)
	}
	if got.GetJob() != big.GetJob() || len(big.GetSheets()) != 1000 {
		t.Fatal("brief changed the job or the status it was given")
	}
}
