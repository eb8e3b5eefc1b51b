package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/messages"
)

// remoteStatus measures `mzt --remote HOST:PORT conductor-status --json`
// (protoactor remote, mutual TLS, loopback) against the same command over
// the Unix socket, on one conductor, both as fresh processes, interleaved.
// It also measures the request alone over one long-lived remote client, to
// separate the per-process cost (actor system, gRPC server, TLS handshakes,
// dial-back) from the round trip itself.
func remoteStatus(mztBin, dir string, n int) (rows []row, err error) {
	home := filepath.Join(dir, "hr")
	mztCmd := mztIn(mztBin, home)
	if out, err := mztCmd("certs", "init", "--host", "127.0.0.1").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("certs init: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf("[remote]\nlisten = %q\nca = \"certs/ca.pem\"\ncert = \"certs/host.pem\"\nkey = \"certs/host.key\"\n", addr)
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
		if out, err := mztCmd("--remote", addr, "conductor-status", "--json").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("remote conductor-status: %v\n%s", err, out)
		}
		remote = append(remote, time.Since(t0))
	}
	rows = append(rows, row{"remote conductor-status --json round trip, mTLS loopback (median)", ms(median(remote)),
		ms(median(local)) + " same command, local socket", ratio(median(remote), median(local)), ""})

	// In process: one remote client, many requests, vs one socket client.
	cd := benchCerts(home)
	tf := client.TLSFiles(cd)
	conn, err := client.DialRemote(addr, client.RemoteOptions{TLS: &tf})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sock, err := client.Dial(context.Background(), filepath.Join(home, "conductor.sock"))
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	ctx := context.Background()
	if _, err := conn.Request(ctx, &messages.ConductorStatusRequest{}); err != nil { // connect both ways
		return nil, err
	}
	var inLocal, inRemote []time.Duration
	for range n * 4 {
		t0 := time.Now()
		if _, err := sock.Request(ctx, &messages.ConductorStatusRequest{}); err != nil {
			return nil, err
		}
		inLocal = append(inLocal, time.Since(t0))
		t0 = time.Now()
		if _, err := conn.Request(ctx, &messages.ConductorStatusRequest{}); err != nil {
			return nil, err
		}
		inRemote = append(inRemote, time.Since(t0))
	}
	rows = append(rows, row{"remote status request, one long-lived client (median)", ms(median(inRemote)),
		ms(median(inLocal)) + " socket client", ratio(median(inRemote), median(inLocal)), ""})
	return rows, nil
}

func benchCerts(home string) certs.Files {
	d := filepath.Join(home, "certs")
	return certs.Files{CA: filepath.Join(d, certs.CAFile), Cert: filepath.Join(d, "client.pem"), Key: filepath.Join(d, "client.key")}
}

// remoteOnly is `mzt-bench remote`: just the remote rows.
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
	fmt.Printf("%-66s %-12s %-36s %s\n", "MEASURE", "MZT", "COMPARED WITH", "RATIO")
	for _, r := range rows {
		fmt.Printf("%-66s %-12s %-36s %s\n", r.what, r.value, r.floor, r.ratio)
	}
	return nil
}
