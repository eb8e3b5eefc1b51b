package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/client/actorclient"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
)

// remoteStatus measures a status round trip every way a conductor answers,
// on one conductor with both [remote] and [api] listen: as a fresh CLI
// process (`mzt conductor-status --json` over the socket framing, and with
// --remote over the Conductor service and mutual TLS), and over one
// kept-open client (socket framing; api.sock with Connect JSON and with
// gRPC; [api] listen with gRPC over mutual TLS; the protoactor remote).
func remoteStatus(mztBin, dir string, n int) (rows []row, err error) {
	home := filepath.Join(dir, "hr")
	mztCmd := mztIn(mztBin, home)
	if out, err := mztCmd("certs", "init", "--host", "127.0.0.1").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("certs init: %v\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("[remote]\nlisten = %q\nca = \"certs/ca.pem\"\ncert = \"certs/host.pem\"\nkey = \"certs/host.key\"\n[api]\nlisten = %q\n", addr, apiAddr)
	if err := os.WriteFile(filepath.Join(home, "conductor.toml"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if out, err := mztCmd("start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start: %v\n%s", err, out)
	}
	defer mztCmd("stop", "--force").Run()

	var local, remote []time.Duration
	for range n {
		t0 := time.Now()
		if out, err := mztCmd("conductor-status", "--json").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("conductor-status: %v\n%s", err, out)
		}
		local = append(local, time.Since(t0))
		t0 = time.Now()
		if out, err := mztCmd("--remote", apiAddr, "conductor-status", "--json").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("remote conductor-status: %v\n%s", err, out)
		}
		remote = append(remote, time.Since(t0))
	}
	rows = append(rows, row{"CLI: --remote conductor-status --json, [api] mTLS loopback (median)", ms(median(remote)),
		ms(median(local)) + " same command, socket framing", ratio(median(remote), median(local)), ""})

	ways, closeAll, err := keptOpenClients(home, addr, apiAddr)
	defer closeAll()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	times := make([][]time.Duration, len(ways))
	for _, w := range ways {
		if err := w.ask(ctx); err != nil { // connect (and handshake) first
			return nil, fmt.Errorf("%s: %w", w.name, err)
		}
	}
	for range n * 4 { // interleaved, so that load on the machine hits each alike
		for i, w := range ways {
			t0 := time.Now()
			if err := w.ask(ctx); err != nil {
				return nil, fmt.Errorf("%s: %w", w.name, err)
			}
			times[i] = append(times[i], time.Since(t0))
		}
	}
	base := median(times[0])
	for i, w := range ways {
		rows = append(rows, row{"kept-open client, status request: " + w.name + " (median)", ms(median(times[i])),
			ms(base) + " socket framing", ratio(median(times[i]), base), ""})
	}
	return rows, nil
}

// way is one kept-open client asking for the conductor's status.
type way struct {
	name string
	ask  func(context.Context) error
}

func keptOpenClients(home, addr, apiAddr string) (ways []way, closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for _, c := range closers {
			c()
		}
	}
	sock, err := client.Dial(context.Background(), filepath.Join(home, "conductor.sock"))
	if err != nil {
		return nil, closeAll, err
	}
	closers = append(closers, func() { sock.Close() })
	ways = append(ways, way{"socket framing", func(ctx context.Context) error {
		_, err := sock.Request(ctx, &messages.ConductorStatusRequest{})
		return err
	}})

	apiSock := filepath.Join(home, "api.sock")
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &p, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", apiSock)
	}}}
	closers = append(closers, h2c.CloseIdleConnections)
	jsonClient := messagesconnect.NewConductorClient(h2c, "http://mzt", connect.WithProtoJSON())
	ways = append(ways, way{"api.sock, Connect JSON", func(ctx context.Context) error {
		_, err := jsonClient.Status(ctx, connect.NewRequest(&messages.ConductorStatusRequest{}))
		return err
	}})
	local := client.NewLocal(apiSock)
	closers = append(closers, func() { local.Close() })
	ways = append(ways, way{"api.sock, gRPC", func(ctx context.Context) error {
		_, err := local.Status(ctx)
		return err
	}})

	files := benchCerts(home)
	cfg, err := certs.ClientConfig(files, true)
	if err != nil {
		return nil, closeAll, err
	}
	api := client.NewRemoteAPI(apiAddr, cfg)
	closers = append(closers, func() { api.Close() })
	ways = append(ways, way{"[api] listen, gRPC, mTLS", func(ctx context.Context) error {
		_, err := api.Status(ctx)
		return err
	}})

	tf := client.TLSFiles(files)
	conn, err := actorclient.DialRemote(addr, client.RemoteOptions{TLS: &tf})
	if err != nil {
		return nil, closeAll, err
	}
	closers = append(closers, func() { conn.Close() })
	ways = append(ways, way{"protoactor remote, mTLS, dial-back", func(ctx context.Context) error {
		_, err := conn.Request(ctx, &messages.ConductorStatusRequest{})
		return err
	}})
	return ways, closeAll, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func benchCerts(home string) certs.Files {
	d := filepath.Join(home, "certs")
	return certs.Files{CA: filepath.Join(d, certs.CAFile), Cert: filepath.Join(d, "client.pem"), Key: filepath.Join(d, "client.key")}
}

// remoteOnly is `mzt-bench remote` (or `api`): just these rows.
func remoteOnly(mztBin string, n int) error {
	dir, mztBin, err := workdir(".mztbench", mztBin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rows, err := remoteStatus(mztBin, dir, n)
	if err != nil {
		return err
	}
	fmt.Printf("mzt-bench remote on %s, %d CPUs, %s\n\n", hostname(), numCPU(), time.Now().Format(time.RFC3339))
	fmt.Printf("%-72s %-12s %-36s %s\n", "MEASURE", "MZT", "COMPARED WITH", "RATIO")
	for _, r := range rows {
		fmt.Printf("%-72s %-12s %-36s %s\n", r.what, r.value, r.floor, r.ratio)
	}
	return nil
}
