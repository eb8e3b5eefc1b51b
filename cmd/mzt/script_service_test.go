package main

import (
	"net"
	"os"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["notifylisten"] = cmdNotifyListen
}

// notifylisten SOCKET LOG: listen on the unixgram SOCKET as systemd's
// NOTIFY_SOCKET does, appending each datagram received as a line of LOG,
// until the script ends.
func cmdNotifyListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: notifylisten SOCKET LOG")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ts.MkAbs(args[0]), Net: "unixgram"})
	ts.Check(err)
	log, err := os.OpenFile(ts.MkAbs(args[1]), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	ts.Check(err)
	done := make(chan struct{})
	ts.Defer(func() { conn.Close(); <-done; log.Close() })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			conn.SetReadDeadline(time.Now().Add(time.Minute))
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			log.Write(append(buf[:n:n], '\n'))
		}
	}()
}
