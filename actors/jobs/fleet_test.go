package jobs

import "testing"

func TestFleetBudget(t *testing.T) {
	tests := []struct {
		name           string
		maxCost, prior float64
		want           float64
	}{
		{"no budget", 0, 3, 0},
		{"first placement", 5, 0, 0},
		{"placed again: what is left", 5, 2, 3},
		{"placed again with nothing left", 5, 6, minBudget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fleetBudget(tt.maxCost, tt.prior); got != tt.want {
				t.Errorf("fleetBudget(%v, %v) = %v, want %v", tt.maxCost, tt.prior, got, tt.want)
			}
		})
	}
}
