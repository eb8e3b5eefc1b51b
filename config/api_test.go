package config

import (
	"strings"
	"testing"
)

func TestAPIProblems(t *testing.T) {
	remote := Remote{CA: "ca.pem", Cert: "c.pem", Key: "c.key"}
	for _, tc := range []struct {
		name   string
		api    API
		remote Remote
		want   string // "" = no problem
	}{
		{"off", API{}, Remote{}, ""},
		{"own certificates", API{Listen: "0.0.0.0:7400", CA: "a", Cert: "b", Key: "c"}, Remote{}, ""},
		{"remote's certificates", API{Listen: "0.0.0.0:7400"}, remote, ""},
		{"no certificates at all", API{Listen: "127.0.0.1:7400"}, Remote{}, "needs mutual TLS"},
		{"half its own", API{Listen: "127.0.0.1:7400", CA: "a"}, remote, "needs mutual TLS"},
		{"not HOST:PORT", API{Listen: "7400"}, remote, "want HOST:PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(tc.api.problems(tc.remote), "; ")
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("problems = %q, want %q", got, tc.want)
			}
		})
	}
}
