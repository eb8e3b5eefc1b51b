package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// LogsCmd is `mzt logs JOB`.
type LogsCmd struct {
	Job     string `arg:"" help:"Job id."`
	Sheet   int    `help:"Only this sheet." placeholder:"N"`
	Attempt int    `help:"This try of the sheet (default: the latest)." placeholder:"K"`
	Stderr  bool   `help:"Show stderr instead of stdout."`
	Prompt  bool   `help:"Show the rendered prompt the try was given instead of its output."`
	Follow  bool   `short:"f" help:"Keep streaming until the sheet ends (without --sheet: every sheet of the job, each line prefixed [stage:voice])."`
	Raw     bool   `help:"The bytes as captured; without it, agents' JSON events show as readable lines."`
	RunNum  int    `name:"run" help:"An earlier run of this job id (1 = the first)." placeholder:"N"`
	// Reconnect bounds how long --follow waits for a conductor that went away.
	Reconnect time.Duration `help:"With --follow: how long to wait for a conductor that went away (0: give up at once)." default:"60s" placeholder:"DURATION"`
}

// logKey is one try's output in a log stream.
type logKey struct{ sheet, attempt int64 }

func (c *LogsCmd) Run(g *Globals) error {
	if c.RunNum < 0 {
		return failf(exitUsage, "", "--run %d: runs are numbered from 1", c.RunNum)
	}
	out := newLogPrinter(g.env.Stdout, c.Raw)
	// What was printed of each try: a follower that lost the conductor asks
	// again and skips the headers and bytes it has already shown.
	printed := map[logKey]int64{}
	headed := map[logKey]bool{}
	rc := g.reconnector(c.Reconnect)
	stream := func() error {
		cl, err := g.dial()
		if err != nil {
			return err
		}
		rc.markReached()
		defer cl.Close()
		seen := map[logKey]int64{}
		return cl.Stream(g.ctx, &messages.LogsRequest{JobId: c.Job, Sheet: int64(c.Sheet), Attempt: int64(c.Attempt),
			Stderr: c.Stderr, Follow: c.Follow, Prompt: c.Prompt, Run: int64(c.RunNum)}, func(msg proto.Message) error {
			chunk, ok := msg.(*messages.LogChunk)
			if !ok {
				return fmt.Errorf("unexpected %T in a log stream", msg)
			}
			k := logKey{chunk.GetSheet(), chunk.GetAttempt()}
			if chunk.GetHeader() != "" && !headed[k] {
				headed[k] = true
				if err := out.flush(chunk.GetSheet()); err != nil {
					return err
				}
				fmt.Fprintln(g.env.Stdout, chunk.GetHeader())
			}
			data := chunk.GetData()
			from := seen[k]
			seen[k] += int64(len(data))
			if skip := printed[k] - from; skip > 0 {
				data = data[min(skip, int64(len(data))):]
			}
			if len(data) == 0 {
				return nil
			}
			printed[k] += int64(len(data))
			prefix := ""
			if chunk.GetStage() != "" {
				prefix = fmt.Sprintf("[%s:%d] ", chunk.GetStage(), chunk.GetVoice())
			}
			return out.write(chunk.GetSheet(), prefix, data)
		})
	}
	var err error
	if c.Follow {
		err = rc.run(g.ctx, stream)
	} else {
		err = stream()
	}
	if ferr := out.flushAll(); err == nil {
		err = ferr
	}
	if errors.Is(err, client.ErrJobNotFound) {
		var re *client.RemoteError
		if errors.As(err, &re) {
			return failf(exitFailed, "", "%s", re.Message)
		}
	}
	if g.ctx.Err() != nil {
		return nil // interrupted by the user while following
	}
	return err
}
