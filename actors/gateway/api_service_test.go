package gateway

import (
	"errors"
	"os"
	"regexp"
	"testing"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/messages"
)

// Every error code travels as a Connect code a generic client understands,
// the one PROTOCOL.md promises, with the conductor's own error as a detail.
func TestErrorCodesOnTheWire(t *testing.T) {
	doc, err := os.ReadFile("../../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(ERROR_CODE_\\w+)` \\| `(\\w+)` \\|")
	promised := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		promised[m[1]] = m[2]
	}
	for num, name := range messages.ErrorCode_name {
		code := messages.ErrorCode(num)
		if code == messages.ErrorCode_ERROR_CODE_UNSPECIFIED {
			continue
		}
		wire := CodeOnWire(code)
		if wire == connect.CodeUnknown {
			t.Errorf("%s has no Connect code", name)
		}
		if promised[name] != wire.String() {
			t.Errorf("%s travels as %s; PROTOCOL.md says %q", name, wire, promised[name])
		}
		err := connectError(messages.NewError(code, "a hint", "a message"))
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != wire || ce.Message() != "a message" {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(ce.Details()) != 1 {
			t.Errorf("%s: %d details, want the conductor's error", name, len(ce.Details()))
			continue
		}
		v, err := ce.Details()[0].Value()
		if me, ok := v.(*messages.Error); err != nil || !ok || me.GetCode() != code || me.GetHint() != "a hint" {
			t.Errorf("%s: detail %v, %v", name, v, err)
		}
	}
}
