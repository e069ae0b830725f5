package activator

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRevStats(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type report struct {
		Concurrency, Count float64
		OK                 bool
	}
	// Steps: "+" begin (want poke as given), "-" end, "r" report.
	steps := []struct {
		ms       int
		op       string
		wantPoke bool
		want     report
	}{
		{0, "+", true, report{}},     // cold: pokes
		{0, "+", false, report{}},    // second arrival at once: no poke
		{500, "-", false, report{}},  // one leaves after 0.5 s
		{1000, "r", false, report{}}, // area 0.5·2 + 0.5·1 = 1.5 → minus poke 0.5; count 2 − 1
		{1500, "-", false, report{}}, // the other leaves
		{2000, "r", false, report{}}, // area 0.5 → 0.5; count 0
		{3000, "r", false, report{}}, // idle period: reported as 0, goes cold
		{4000, "r", false, report{}}, // cold: nothing to report
		{4000, "+", true, report{}},  // next arrival pokes again
		{5000, "r", false, report{}}, // 1 for 1 s, minus poke → 0, count 0
	}
	wants := []report{
		{0.5, 1, true},
		{0.5, 0, true},
		{0, 0, true},
		{0, 0, false},
		{0, 0, true},
	}
	var s revStats
	var got []report
	for _, st := range steps {
		switch st.op {
		case "+":
			if poke := s.begin(at(st.ms)); poke != st.wantPoke {
				t.Errorf("at %dms begin poke = %v, want %v", st.ms, poke, st.wantPoke)
			}
		case "-":
			s.end(at(st.ms))
		case "r":
			c, n, ok := s.report(at(st.ms))
			got = append(got, report{c, n, ok})
		}
	}
	if diff := cmp.Diff(wants, got); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
}
