package gateway

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

type benchStatusHandler struct{}

func (benchStatusHandler) Handle(context.Context, proto.Message, func(proto.Message) error) (proto.Message, error) {
	return &messages.ConductorStatus{Pid: 1, Version: "bench", Status: "ready", Pressure: "none"}, nil
}

func benchSocket(b *testing.B) string {
	dir, err := os.MkdirTemp("", "gwb")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s.sock")
}

// BenchmarkStatusRoundTrip is a conductor-status request through the real
// gateway server and client package, on one connection.
func BenchmarkStatusRoundTrip(b *testing.B) {
	path := benchSocket(b)
	ln, err := Listen(path)
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer(ln, benchStatusHandler{}, ServerOptions{OwnUID: os.Getuid()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.Serve()
	b.Cleanup(srv.Close)
	c, err := client.Dial(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		if _, err := c.Request(context.Background(), &messages.ConductorStatusRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareUnixRoundTrip is the floor: one byte out, one line back.
func BenchmarkBareUnixRoundTrip(b *testing.B) {
	path := benchSocket(b)
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			if _, err := r.ReadByte(); err != nil {
				return
			}
			c.Write([]byte("ok\n"))
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for b.Loop() {
		c.Write([]byte{1})
		if _, err := r.ReadString('\n'); err != nil {
			b.Fatal(err)
		}
	}
}
