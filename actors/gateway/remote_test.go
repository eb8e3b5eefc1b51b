package gateway

import (
	"testing"

	"github.com/mzt-dev/mzt/client"
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
		&messages.ListJobsRequest{}, &messages.LogsRequest{}, &messages.EventsRequest{}}
	writes := []proto.Message{&messages.SubmitJobRequest{}, &messages.JobControlRequest{}, &messages.ShutdownRequest{}}
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
}
