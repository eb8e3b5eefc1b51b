package messages_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

// PROTOCOL.md is the contract for other languages: every RPC of the
// Conductor service has its row (with its messages and a curl example),
// every error code its row, and the enveloped curl examples have the right
// lengths.
func TestProtocolDocCoversTheService(t *testing.T) {
	data, err := os.ReadFile("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	rows := map[string]string{}
	for _, line := range strings.Split(doc, "\n") {
		if m := regexp.MustCompile("^\\| `(\\w+)` \\|").FindStringSubmatch(line); m != nil {
			rows[m[1]] = line
		}
	}
	svc := messages.File_conductor_proto.Services().ByName("Conductor")
	methods := svc.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		name := string(m.Name())
		row, ok := rows[name]
		if !ok {
			t.Errorf("PROTOCOL.md has no row for the RPC %s", name)
			continue
		}
		for _, want := range []string{"`" + string(m.Input().Name()) + "`", "`" + string(m.Output().Name()) + "`",
			"/mzt.v1.Conductor/" + name} {
			if !strings.Contains(row, want) {
				t.Errorf("the row of %s does not name %s", name, want)
			}
		}
		if m.IsStreamingServer() != strings.Contains(row, "server stream") {
			t.Errorf("the row of %s says the wrong kind (streaming: %v)", name, m.IsStreamingServer())
		}
	}
	for num, name := range messages.ErrorCode_name {
		if num == 0 {
			continue
		}
		if _, ok := rows[name]; !ok {
			t.Errorf("PROTOCOL.md has no row for the error code %s", name)
		}
	}
	// printf '\0\0\0\0\NNN{json}': NNN (octal) must be the JSON's length.
	env := regexp.MustCompile(`printf '\\0\\0\\0\\0\\([0-7]{3})(\{[^']*\})'`)
	found := env.FindAllStringSubmatch(doc, -1)
	if len(found) == 0 {
		t.Error("no enveloped curl example found")
	}
	for _, m := range found {
		n, _ := strconv.ParseInt(m[1], 8, 64)
		if int(n) != len(m[2]) {
			t.Errorf("envelope of %s says %d bytes, it has %d (octal %o)", m[2], n, len(m[2]), len(m[2]))
		}
	}
}
