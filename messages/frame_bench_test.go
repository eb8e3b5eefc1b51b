package messages

import (
	"bufio"
	"bytes"
	"testing"
)

func benchStatusEnvelope() *Envelope {
	return MustWrap(42, &ConductorStatus{Pid: 1234, Version: "0.1.0", UptimeSeconds: 12.5, Socket: "/home/u/.marianne/conductor.sock",
		Status: "ready", AcceptingWork: true, RunningJobs: 3, MemoryMb: 120.5, MemoryLimitMb: 8192, Pressure: "none"})
}

func BenchmarkWriteFrame(b *testing.B) {
	env := benchStatusEnvelope()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := WriteFrame(&buf, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFrame(b *testing.B) {
	var buf bytes.Buffer
	if err := WriteFrame(&buf, benchStatusEnvelope()); err != nil {
		b.Fatal(err)
	}
	frame := buf.Bytes()
	r := bufio.NewReader(bytes.NewReader(nil))
	for b.Loop() {
		r.Reset(bytes.NewReader(frame))
		var env Envelope
		if err := ReadFrame(r, &env); err != nil {
			b.Fatal(err)
		}
	}
}
