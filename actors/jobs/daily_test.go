package jobs

import (
	"testing"
	"time"
)

func TestDailySpend(t *testing.T) {
	t.Parallel()
	day1 := time.Date(2026, 3, 1, 23, 59, 0, 0, time.Local)
	day2 := day1.Add(2 * time.Minute)
	var d dailySpend
	d.add(0.3, day1)
	d.add(0.3, day1.Add(30*time.Second))
	if got := d.today(day1); got != 0.6 {
		t.Errorf("today on day 1 = %v, want 0.6", got)
	}
	if got := d.today(day2); got != 0 {
		t.Errorf("today on day 2 before any try = %v, want 0 (a new day starts from zero)", got)
	}
	d.add(0.1, day2)
	if got := d.today(day2); got != 0.1 {
		t.Errorf("today on day 2 = %v, want 0.1", got)
	}
	for _, tc := range []struct {
		limit, spent float64
		want         bool
	}{{0, 100, false}, {0.5, 0.49, false}, {0.5, 0.5, true}, {0.5, 0.6, true}} {
		if got := dailyReached(tc.limit, tc.spent); got != tc.want {
			t.Errorf("dailyReached(%v, %v) = %v, want %v", tc.limit, tc.spent, got, tc.want)
		}
	}
}
