package client

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// Every way a connection is lost, on every transport, is ErrConnectionLost.
func TestConnectionLostIsOneError(t *testing.T) {
	dir := shortSocket(t)
	missing := filepath.Join(filepath.Dir(dir), "missing.sock")

	// A socket whose server closes every connection at once.
	closing := filepath.Join(filepath.Dir(dir), "closing.sock")
	ln, err := net.Listen("unix", closing)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := tcp.Addr().String()
	tcp.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, try := range map[string]func() error{
		"socket framing, no conductor": func() error { _, err := Dial(ctx, missing); return err },
		"socket framing, connection closed": func() error {
			c, err := Dial(ctx, closing)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Request(ctx, &messages.HealthRequest{})
			return err
		},
		"service on api.sock, no conductor": func() error {
			_, err := NewLocal(missing).Status(ctx)
			return err
		},
		"service on api.sock, connection closed": func() error {
			_, err := NewLocal(closing).Status(ctx)
			return err
		},
		"remote probe, connection refused": func() error { return Probe(refused, nil, time.Second) },
		"service over the network, connection refused": func() error {
			_, err := NewRemoteAPI(refused, nil).Status(ctx)
			return err
		},
	} {
		err := try()
		if !errors.Is(err, ErrConnectionLost) {
			t.Errorf("%s: %v (%T) is not ErrConnectionLost", name, err, err)
		}
	}
}
