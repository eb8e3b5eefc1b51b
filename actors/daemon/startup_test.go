package daemon

import (
	"reflect"
	"testing"
)

// TestCleanupsRunOnceInReverse: start-up's clean-up stack undoes steps last
// first, skips a disarmed step (its resource was handed to an actor) and
// runs nothing twice.
func TestCleanupsRunOnceInReverse(t *testing.T) {
	var order []string
	var undo cleanups
	undo.push(func() { order = append(order, "lock") })
	db := undo.push(func() { order = append(order, "db") })
	undo.push(func() { order = append(order, "log") })
	db.disarm()
	undo.run()
	undo.run()
	if want := []string{"log", "lock"}; !reflect.DeepEqual(order, want) {
		t.Errorf("clean-up order %v, want %v", order, want)
	}
}
