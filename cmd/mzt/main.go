// Command mzt is the conductor's CLI. It links no conductor: `mzt start`
// runs the mzt-conductor binary installed beside it (or on PATH), so every
// other command loads and starts as fast as a small Go binary can.
package main

import (
	"os"

	"github.com/mzt-dev/mzt/cmd/mzt/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr}))
}
