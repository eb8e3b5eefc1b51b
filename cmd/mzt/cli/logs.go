package cli

import (
	"errors"
	"fmt"

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
	Follow  bool   `short:"f" help:"Keep streaming until the sheet ends."`
}

func (c *LogsCmd) Run(g *Globals) error {
	cl, err := g.dial()
	if err != nil {
		return err
	}
	defer cl.Close()
	err = cl.Stream(g.ctx, &messages.LogsRequest{JobId: c.Job, Sheet: int64(c.Sheet), Attempt: int64(c.Attempt),
		Stderr: c.Stderr, Follow: c.Follow, Prompt: c.Prompt}, func(msg proto.Message) error {
		chunk, ok := msg.(*messages.LogChunk)
		if !ok {
			return fmt.Errorf("unexpected %T in a log stream", msg)
		}
		if chunk.GetHeader() != "" {
			fmt.Fprintln(g.env.Stdout, chunk.GetHeader())
		}
		_, err := g.env.Stdout.Write(chunk.GetData())
		return err
	})
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
