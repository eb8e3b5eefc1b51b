package monitor

// Level is a backpressure level (none, low, medium, high, critical).
type Level int

const (
	None Level = iota
	Low
	Medium
	High
	Critical
)

func (l Level) String() string {
	return [...]string{"none", "low", "medium", "high", "critical"}[l]
}

// Thresholds are percentages of the nearer limit.
type Thresholds struct{ Low, Medium, High, Critical int }

// hysteresis is how far (in percent points) usage must fall below a level's
// threshold before that level lifts, so pressure does not flap at a boundary.
const hysteresis = 5

// NextLevel computes the level for usage percent given the current level:
// rising is immediate, falling waits for hysteresis.
func NextLevel(current Level, percent float64, t Thresholds) Level {
	bounds := [...]int{0, t.Low, t.Medium, t.High, t.Critical}
	raw := None
	for l := Critical; l > None; l-- {
		if percent >= float64(bounds[l]) {
			raw = l
			break
		}
	}
	if raw >= current {
		return raw
	}
	// Falling: drop only to the highest level we are not within hysteresis of.
	l := current
	for l > raw && percent < float64(bounds[l]-hysteresis) {
		l--
	}
	return l
}
