package score

import "testing"

func TestIdentity(t *testing.T) {
	t.Parallel()
	const stages = "[[stage]]\nid = 'a'\nprompt = 'p'\ninstrument = 'shell'\n"
	id := func(path, src string) string {
		sc, err := Parse(path, []byte(src), map[string]bool{"shell": true})
		if err != nil {
			t.Fatal(err)
		}
		return sc.Identity()
	}
	base := id("/s/review.toml", "id = 'one'\n"+stages)
	if IdentityName(base) != "review" {
		t.Errorf("identity %q: want the file name without its extension", base)
	}
	for _, tc := range []struct {
		name, path, src string
		same            bool
	}{
		{"another job id, same stages", "/s/review.toml", "id = 'two'\n" + stages, true},
		{"other run settings, same stages", "/s/review.toml", "[run]\nmax_parallel = 9\n" + stages, true},
		{"keys in another order", "/s/review.toml", "[[stage]]\ninstrument = 'shell'\nprompt = 'p'\nid = 'a'\n", true},
		{"a stage changed", "/s/review.toml", "[[stage]]\nid = 'a'\nprompt = 'q'\ninstrument = 'shell'\n", false},
		{"another file name", "/s/other.toml", stages, false},
	} {
		if got := id(tc.path, tc.src); (got == base) != tc.same {
			t.Errorf("%s: identity %q vs %q, want same=%v", tc.name, got, base, tc.same)
		}
	}
	named := id("/s/x.toml", "name = 'Parallel review'\n"+stages)
	if IdentityName(named) != "Parallel review" {
		t.Errorf("identity %q: want the score's name", named)
	}
}
