package client

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
)

// gappyConductor's first stream sends 1 and 2, then says it dropped events
// for this slow reader and holds on; every later stream sends what follows
// the seq asked for, up to 4, and ends as a stopping conductor does.
type gappyConductor struct {
	messagesconnect.UnimplementedConductorHandler
	mu    sync.Mutex
	after []int64 // the after_seq of each stream, in order
}

func (g *gappyConductor) Events(ctx context.Context, r *connect.Request[messages.EventsRequest], out *connect.ServerStream[messages.Event]) error {
	g.mu.Lock()
	g.after = append(g.after, r.Msg.GetAfterSeq())
	first := len(g.after) == 1
	g.mu.Unlock()
	for seq := r.Msg.GetAfterSeq() + 1; seq <= 4; seq++ {
		if first && seq == 3 {
			if err := out.Send(&messages.Event{Kind: string(messages.EventEventsDropped), Detail: "2 events were dropped"}); err != nil {
				return err
			}
			<-ctx.Done()
			return nil
		}
		if err := out.Send(&messages.Event{Seq: seq, Kind: string(messages.EventJobStatus)}); err != nil {
			return err
		}
	}
	return nil
}

// Events resumes from the store after a gap (events dropped for a slow
// reader) and after a stream ends: every seq once, in order, none missed.
func TestEventsResumeAfterGapAndEnd(t *testing.T) {
	socket := filepath.Join(filepath.Dir(shortSocket(t)), "api.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	g := &gappyConductor{}
	mux := http.NewServeMux()
	mux.Handle(messagesconnect.NewConductorHandler(g))
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: &p}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := NewLocal(socket)
	defer c.Close()
	var got []int64
	for e, err := range c.Events(ctx, Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.GetSeq())
		if len(got) == 4 {
			break
		}
	}
	if !slices.Equal(got, []int64{1, 2, 3, 4}) {
		t.Fatalf("got seqs %v, want [1 2 3 4]", got)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.after[0] != 0 || g.after[1] != 2 {
		t.Errorf("streams asked after %v, want 0 then 2", g.after)
	}
}
