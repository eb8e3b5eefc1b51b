package cli

import "testing"

func TestParseBudgetRaise(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"+5", 5, true}, {"5", 5, true}, {"2.50", 2.5, true}, {"+$5", 5, true},
		{"-5", 0, false}, {"0", 0, false}, {"lots", 0, false}, {"+Inf", 0, false}, {"NaN", 0, false}, {"", 0, false},
	} {
		got, err := parseBudgetRaise(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseBudgetRaise(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCostText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ got, want string }{
		{usd(0, false), "?"},
		{usd(0, true), "$0.00"},
		{usd(0.004213, true), "$0.0042"},
		{usd(1.2, true), "$1.20"},
		{tokens(0, 0, false), "?"},
		{tokens(1532, 687, true), "1.5k/687"},
		{tokens(25763, 2_500_000, true), "26k/2.5M"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
