package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"

	"github.com/rogpeppe/go-internal/testscript"
)

// Two hosts on one machine: network namespaces joined by a veth pair, so
// that a remote test crosses a real (virtual) network, with its own
// addresses, not loopback.
func init() {
	scriptCmds["netns"] = cmdNetns
}

// netnsSeq gives each pair of namespaces its own names and subnet.
var netnsSeq atomic.Int32

// canNetns reports whether this machine lets us make network namespaces.
func canNetns() bool {
	if os.Getuid() != 0 {
		return false
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return false
	}
	name := fmt.Sprintf("mztprobe%d", os.Getpid())
	if err := exec.Command("ip", "netns", "add", name).Run(); err != nil {
		return false
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	// veth pairs too (a kernel without the module cannot join two namespaces).
	veth := fmt.Sprintf("mzp%d", os.Getpid()%100000)
	if err := exec.Command("ip", "-n", name, "link", "add", veth+"a", "type", "veth", "peer", "name", veth+"b").Run(); err != nil {
		return false
	}
	return true
}

// netns: make two namespaces joined by a veth pair and set NSA, NSB (their
// names) and IPA, IPB (their addresses); they are deleted when the script ends.
func cmdNetns(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: netns")
	}
	n := netnsSeq.Add(1)
	prefix := fmt.Sprintf("mzt%d-%d", os.Getpid()%100000, n)
	nsa, nsb := prefix+"a", prefix+"b"
	ipa, ipb := fmt.Sprintf("10.213.%d.1", n), fmt.Sprintf("10.213.%d.2", n)
	vetha, vethb := fmt.Sprintf("mzv%da", n), fmt.Sprintf("mzv%db", n)
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			ts.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ts.Defer(func() {
		exec.Command("ip", "netns", "del", nsa).Run()
		exec.Command("ip", "netns", "del", nsb).Run()
	})
	run("netns", "add", nsa)
	run("netns", "add", nsb)
	run("link", "add", vetha, "type", "veth", "peer", "name", vethb)
	run("link", "set", vetha, "netns", nsa)
	run("link", "set", vethb, "netns", nsb)
	for _, ns := range []struct{ name, dev, ip string }{{nsa, vetha, ipa}, {nsb, vethb, ipb}} {
		run("-n", ns.name, "addr", "add", ns.ip+"/30", "dev", ns.dev)
		run("-n", ns.name, "link", "set", ns.dev, "up")
		run("-n", ns.name, "link", "set", "lo", "up")
	}
	ts.Setenv("NSA", nsa)
	ts.Setenv("NSB", nsb)
	ts.Setenv("IPA", ipa)
	ts.Setenv("IPB", ipb)
}
