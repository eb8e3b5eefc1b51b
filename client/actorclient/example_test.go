package actorclient_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/client/actorclient"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// A Go program that is a protoactor node of its own talks to a conductor by
// sending Envelopes to the conductor's remote gateway with one of its actors
// as the sender; the answers (one, or a stream ended by StreamEnd or Error)
// come back to that actor with the request's correlation id. Its
// certificate, signed by the fleet's CA, serves both ends: the conductor
// dials back to the address this node advertises.
func Example_protoactorPeer() {
	pair, err := tls.LoadX509KeyPair("certs/client.pem", "certs/client.key")
	if err != nil {
		fmt.Println(err)
		return
	}
	caPEM, _ := os.ReadFile("certs/ca.pem")
	ca := x509.NewCertPool()
	ca.AppendCertsFromPEM(caPEM)
	srv := &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: ca, ClientAuth: tls.RequireAndVerifyClientCert}
	cli := &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: ca}

	system := actor.NewActorSystem()
	r := remote.NewRemote(system, remote.Configure("10.0.0.2", 0, // an address the conductor can reach
		remote.WithServerOptions(grpc.Creds(credentials.NewTLS(srv)), grpc.MaxRecvMsgSize(actorclient.MaxRemoteMessage)),
		remote.WithDialOptions(grpc.WithTransportCredentials(credentials.NewTLS(cli)))))
	r.Start()
	defer r.Shutdown(false)

	replies := make(chan *messages.Envelope, 16)
	me := system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if env, ok := ctx.Message().(*messages.Envelope); ok {
			replies <- env
		}
	}))
	gateway := actor.NewPID("b.example:7300", client.RemoteGatewayID)
	system.Root.RequestWithCustomSender(gateway, messages.MustWrap(1, &messages.ConductorStatusRequest{}), me)
	select {
	case env := <-replies:
		fmt.Println(env.GetConductorStatus().GetStatus(), env.GetError().GetMessage())
	case <-time.After(10 * time.Second):
		fmt.Println("no answer")
	}
}

// Most Go programs can let the client package do all of that.
func ExampleDialRemote() {
	conn, err := actorclient.DialRemote("b.example:7300", client.RemoteOptions{
		TLS: &client.TLSFiles{CA: "certs/ca.pem", Cert: "certs/client.pem", Key: "certs/client.key"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	st, err := client.RequestAs[*messages.ConductorStatus](context.Background(), conn, &messages.ConductorStatusRequest{})
	fmt.Println(st.GetStatus(), err)
}
