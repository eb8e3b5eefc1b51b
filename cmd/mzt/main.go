// Command mzt is the conductor's CLI. It links no conductor: `mzt start`
// runs the mzt-conductor binary installed beside it (or on PATH), so every
// other command loads and starts as fast as a small Go binary can.
package main

import (
	"os"
	"runtime/debug"

	"github.com/mzt-dev/mzt/cmd/mzt/cli"
)

// gcPercent is the CLI's garbage collection target. A command lives for
// milliseconds and holds little: printing a history of 10,000 jobs
// allocates about 15 MB, and at the default target collects three times
// for 6-10 ms of its ~40 ms of CPU; at this one it peaks 1-2 MB higher.
// Long-lived views (top, watch, follow) hold a few MB, five times that is
// still small. GOGC, when set, wins.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(cli.Main(os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr}))
}
