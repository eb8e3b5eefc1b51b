package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mzt-dev/mzt/messages"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["halfframes"] = cmdHalfFrames
	scriptCmds["peakrss"] = cmdPeakRSS
}

// halfframes N: open N connections at once, each announcing a frame of the
// largest size allowed and sending all of it but its last byte; the
// connections stay open until the script ends. Prints held=H refused=R:
// how many got their bytes in, and how many the conductor refused (an
// error frame, or the connection closed under the write).
func cmdHalfFrames(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: halfframes N")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	body := make([]byte, messages.MaxFrameSize-1)
	prefix := []byte{0x80, 0x80, 0x80, 0x08} // varint of MaxFrameSize (16 MiB)
	var mu sync.Mutex
	held, refused := 0, 0
	var wg sync.WaitGroup
	for range n {
		c, err := net.Dial("unix", socketPath(ts))
		ts.Check(err)
		ts.Defer(func() { c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			_, err := c.Write(append(prefix, body...))
			if err == nil {
				// Written: an answer now can only be a refusal.
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				var env messages.Envelope
				if rerr := messages.ReadFrame(bufio.NewReader(c), &env); rerr == nil && env.GetError() != nil {
					err = env.GetError()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused++
			} else {
				held++
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(ts.Stdout(), "held=%d refused=%d\n", held, refused)
}

// peakrss MB: the conductor's peak resident memory (VmHWM) is at most MB.
func cmdPeakRSS(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: peakrss MB")
	}
	limit, err := strconv.Atoi(args[0])
	ts.Check(err)
	pid := readPID(conductorPIDFile(ts))
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	ts.Check(err)
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			ts.Check(err)
			fmt.Fprintf(ts.Stdout(), "peak RSS %d MB\n", kb>>10)
			if (kb>>10 > limit) != neg {
				ts.Fatalf("conductor peak RSS %d MB, limit %d MB", kb>>10, limit)
			}
			return
		}
	}
	ts.Fatalf("no VmHWM in /proc/%d/status", pid)
}
