package gateway

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// The CLI (which may not import actors) addresses the remote gateway by the
// id the daemon spawns it under.
func TestRemoteIDIsTheClientsWellKnownName(t *testing.T) {
	if RemoteID != client.RemoteGatewayID {
		t.Fatalf("gateway spawns %q, clients send to %q", RemoteID, client.RemoteGatewayID)
	}
}

func TestRemotePermitted(t *testing.T) {
	reads := []proto.Message{&messages.HealthRequest{}, &messages.ConductorStatusRequest{}, &messages.JobStatusRequest{},
		&messages.ListJobsRequest{}, &messages.LogsRequest{}, &messages.EventsRequest{},
		&messages.GroupRequest{Action: messages.GroupAction_GROUP_ACTION_LIST},
		&messages.FleetListRequest{}, &messages.FleetStatusRequest{}, &messages.FleetTopRequest{}}
	writes := []proto.Message{&messages.SubmitJobRequest{}, &messages.JobControlRequest{}, &messages.ShutdownRequest{},
		&messages.GroupRequest{Action: messages.GroupAction_GROUP_ACTION_ADD, Name: "nightly", Parallel: 9},
		&messages.GroupRequest{Action: messages.GroupAction_GROUP_ACTION_REMOVE, Name: "nightly"},
		&messages.GroupRequest{},
		&messages.BundleRequest{}} // a member's fetch: full certificates only
	for _, m := range reads {
		if !Permitted(certs.RoleReadOnly, m) || !Permitted(certs.RoleFull, m) {
			t.Errorf("%T must be allowed to every role", m)
		}
	}
	for _, m := range writes {
		if Permitted(certs.RoleReadOnly, m) || Permitted("", m) || !Permitted(certs.RoleFull, m) {
			t.Errorf("%T must need a full certificate", m)
		}
	}
	// Without a certificate: whether the conductor is up, nothing of a job.
	for _, m := range append(reads, writes...) {
		name := shortName(m)
		want := name == "HealthRequest" || name == "ConductorStatusRequest"
		if Permitted(certs.RolePlaintext, m) != want || Permitted("", m) != want {
			t.Errorf("%s allowed to a peer without a certificate: %v, want %v", name, !want, want)
		}
	}
}

// remoteHarness runs the remote gateway in a plain actor system (no remote:
// the guard's headers are set by hand) with a peer actor collecting answers.
type remoteHarness struct {
	system *actor.ActorSystem
	gw     *actor.PID
	peer   *actor.PID
	got    chan *messages.Envelope
	home   string
}

// newRemoteHarness starts the gateway; its jobs actor never answers.
func newRemoteHarness(t *testing.T) *remoteHarness {
	return newRemoteHarnessWith(t, func(actor.Context) {})
}

// newRemoteHarnessWith starts the gateway with jobs as its jobs actor and a
// home of its own.
func newRemoteHarnessWith(t *testing.T, jobs actor.ReceiveFunc) *remoteHarness {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	h := &remoteHarness{system: actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log })),
		got: make(chan *messages.Envelope, 16), home: t.TempDir()}
	jobsPID := h.system.Root.Spawn(actor.PropsFromFunc(jobs))
	deps := &Deps{Version: "test", RequestTimeout: 300 * time.Millisecond, Log: log, Jobs: jobsPID,
		Paths: config.Paths{Home: h.home}}
	var err error
	if h.gw, err = h.system.Root.SpawnNamed(RemoteProps(deps), "remote"); err != nil {
		t.Fatal(err)
	}
	h.peer = h.system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if env, ok := ctx.Message().(*messages.Envelope); ok {
			h.got <- env
		}
	}))
	t.Cleanup(func() { h.system.Root.StopFuture(h.gw).Wait() })
	return h
}

func (h *remoteHarness) send(role string, env *messages.Envelope) {
	hdr := map[string]string{}
	if role != "" {
		hdr[certs.HeaderRole] = role
		hdr[certs.HeaderPeer] = "tester"
	}
	h.system.Root.Send(h.gw, &actor.MessageEnvelope{Header: hdr, Message: env, Sender: h.peer})
}

func (h *remoteHarness) next(t *testing.T) *messages.Envelope {
	t.Helper()
	select {
	case env := <-h.got:
		return env
	case <-time.After(5 * time.Second):
		t.Fatal("no answer from the remote gateway")
		return nil
	}
}

func wantError(t *testing.T, env *messages.Envelope, id uint64, code messages.ErrorCode, text string) {
	t.Helper()
	e := env.GetError()
	if env.GetCorrelationId() != id || e.GetCode() != code || !strings.Contains(e.GetMessage(), text) {
		t.Fatalf("got id %d %v, want id %d, %s containing %q", env.GetCorrelationId(), env, id, code, text)
	}
}

func TestRemoteGatewayAnswers(t *testing.T) {
	h := newRemoteHarness(t)

	h.send(certs.RoleReadOnly, messages.MustWrap(1, &messages.HealthRequest{}))
	if env := h.next(t); env.GetCorrelationId() != 1 || !env.GetHealthResponse().GetReady() {
		t.Fatalf("health: %v", env)
	}
	h.send(certs.RoleReadOnly, messages.MustWrap(2, &messages.SubmitJobRequest{}))
	wantError(t, h.next(t), 2, messages.ErrorCode_ERROR_CODE_PERMISSION_DENIED, `certificate "tester" is read-only here: SubmitJobRequest`)
	// No role header (not from the guard): denied as well.
	h.send("", messages.MustWrap(3, &messages.ShutdownRequest{}))
	wantError(t, h.next(t), 3, messages.ErrorCode_ERROR_CODE_PERMISSION_DENIED, "ShutdownRequest needs a client certificate")
	// The guard's placeholder for an unknown type goes back to the peer.
	h.send(certs.RoleFull, RemotePlaceholder("x.Y").(*messages.Envelope))
	wantError(t, h.next(t), 0, messages.ErrorCode_ERROR_CODE_UNSUPPORTED, `does not accept messages of type "x.Y"`)
	old := messages.MustWrap(4, &messages.HealthRequest{})
	old.ProtocolVersion = messages.ProtocolVersion + 1
	h.send(certs.RoleFull, old)
	wantError(t, h.next(t), 4, messages.ErrorCode_ERROR_CODE_UNSUPPORTED, "protocol version")
	h.send(certs.RoleFull, &messages.Envelope{CorrelationId: 5, ProtocolVersion: messages.ProtocolVersion})
	wantError(t, h.next(t), 5, messages.ErrorCode_ERROR_CODE_UNSUPPORTED, "does not know the request")
}

func TestRemoteGatewayInFlight(t *testing.T) {
	// The jobs actor never answers: a request stays in flight until the
	// gateway's ask times out.
	h := newRemoteHarness(t)
	h.send(certs.RoleFull, messages.MustWrap(9, &messages.ListJobsRequest{}))
	h.send(certs.RoleFull, messages.MustWrap(9, &messages.ListJobsRequest{}))
	wantError(t, h.next(t), 9, messages.ErrorCode_ERROR_CODE_BAD_REQUEST, "correlation id 9 is already in use")
	// The first one ends (the ask times out) and frees its id.
	wantError(t, h.next(t), 9, messages.ErrorCode_ERROR_CODE_TIMEOUT, "did not answer within 300ms")
	h.send(certs.RoleReadOnly, messages.MustWrap(9, &messages.HealthRequest{}))
	if env := h.next(t); env.GetHealthResponse() == nil {
		t.Fatalf("id 9 after the first request ended: %v", env)
	}
}

// The per-peer limit counts a certificate's requests whatever sender
// addresses they come from: one certificate cannot take every slot.
func TestRemoteInFlightPerCertificate(t *testing.T) {
	h := newRemoteHarness(t) // its jobs actor never answers: requests stay in flight
	sendAs := func(cert string, from *actor.PID, env *messages.Envelope) {
		hdr := map[string]string{certs.HeaderRole: certs.RoleFull, certs.HeaderPeer: cert}
		h.system.Root.Send(h.gw, &actor.MessageEnvelope{Header: hdr, Message: env, Sender: from})
	}
	for i := range maxPeerInFlight {
		sendAs("mallory", actor.NewPID(fmt.Sprintf("10.0.%d.%d:1", i/250, i%250+1), "x"),
			messages.MustWrap(uint64(i+1), &messages.ListJobsRequest{}))
	}
	sendAs("mallory", h.peer, messages.MustWrap(100, &messages.ListJobsRequest{}))
	wantError(t, h.next(t), 100, messages.ErrorCode_ERROR_CODE_BUSY, `from certificate "mallory"`)
	// Another certificate still gets in (and its request times out like the rest).
	sendAs("alice", h.peer, messages.MustWrap(101, &messages.ListJobsRequest{}))
	wantError(t, h.next(t), 101, messages.ErrorCode_ERROR_CODE_TIMEOUT, "did not answer")
}
