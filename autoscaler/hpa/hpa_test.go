package hpa_test

import (
	"strings"
	"testing"
	"time"

	"github.com/servekit/servekit/autoscaler/hpa"
)

// epoch is the fixed instant the step scripts start at.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s int) time.Time { return epoch.Add(time.Duration(s) * time.Second) }

func pods(n int, each float64) []float64 {
	u := make([]float64, n)
	for i := range u {
		u[i] = each
	}
	return u
}

func TestDecideOneStep(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    hpa.Spec
		current int32
		usages  []float64
		want    int32
	}{
		{"at target", hpa.Spec{Target: 80}, 2, pods(2, 80), 2},
		{"within tolerance above", hpa.Spec{Target: 80}, 2, pods(2, 87.9), 2},
		{"within tolerance below", hpa.Spec{Target: 80}, 2, pods(2, 72.1), 2},
		{"just past tolerance below", hpa.Spec{Target: 80}, 10, pods(10, 71.9), 9},
		{"well below", hpa.Spec{Target: 80}, 4, pods(4, 20), 1},
		{"just past tolerance above", hpa.Spec{Target: 80}, 2, pods(2, 88.1), 3},
		{"double the target", hpa.Spec{Target: 80}, 2, pods(2, 160), 4},
		{"ceil", hpa.Spec{Target: 50}, 3, pods(3, 90), 6},
		{"custom tolerance keeps", hpa.Spec{Target: 100, Tolerance: 0.5}, 2, pods(2, 149), 2},
		{"custom tolerance moves", hpa.Spec{Target: 100, Tolerance: 0.5}, 2, pods(2, 151), 4},
		{"uneven pods average", hpa.Spec{Target: 100}, 2, []float64{190, 10}, 2},
		{"max bounds", hpa.Spec{Target: 10, Max: 5}, 2, pods(2, 100), 5},
		{"min bounds idle", hpa.Spec{Target: 80, Min: 3}, 1, pods(1, 0), 3},
		{"never zero", hpa.Spec{Target: 80}, 4, pods(4, 0), 1},
		{"no metrics keeps", hpa.Spec{Target: 80}, 3, nil, 3},
		{"no metrics still bounded", hpa.Spec{Target: 80, Max: 2}, 3, nil, 2},
		{"zero current gives min", hpa.Spec{Target: 80}, 0, nil, 1},
		{"zero current gives annotated min", hpa.Spec{Target: 80, Min: 2}, 0, nil, 2},
		// 2 of 4 pods measured at 200: missing pods count as 0 for a
		// scale-up, so the ratio is 400/4/100 = 1: no change.
		{"missing pods cancel scale-up", hpa.Spec{Target: 100}, 4, pods(2, 200), 4},
		// 2 of 4 at 300: (600+0)/4/100 = 1.5 → ceil(1.5 × 4) = 6.
		{"missing pods dampen scale-up", hpa.Spec{Target: 100}, 4, pods(2, 300), 6},
		// 1 of 3 at 0: missing count as the target: (0+200)/3/100 = 0.67 → 2.
		{"missing pods dampen scale-down", hpa.Spec{Target: 100}, 3, pods(1, 0), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := hpa.New(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Decide(epoch, tc.current, tc.usages).Replicas; got != tc.want {
				t.Errorf("Decide(current %d, usages %v) = %d, want %d", tc.current, tc.usages, got, tc.want)
			}
		})
	}
}

// TestStabilisation is a step script on one Decider: rows of (instant,
// current, usages, want), the current count following the decisions.
func TestStabilisation(t *testing.T) {
	type step struct {
		at      int
		current int32
		usage   float64 // per pod, every current pod measured
		want    int32
	}
	for _, tc := range []struct {
		name  string
		spec  hpa.Spec
		steps []step
	}{{
		name: "Kubernetes defaults: up at once, down after 300 s",
		spec: hpa.Spec{Target: 50, ScaleDownWindow: hpa.DefaultScaleDownWindow},
		steps: []step{
			{0, 1, 150, 3},   // 3× the target: up at once
			{15, 3, 50, 3},   // at target
			{30, 3, 10, 3},   // wants 1, held by the 3 of t=0
			{285, 3, 10, 3},  // t=0's 3 is within the 300 s window
			{300, 3, 10, 3},  // t=15 recommended 3, still within 300 s
			{316, 3, 10, 1},  // everything since t=30 wanted 1
			{330, 1, 100, 2}, // up again at once
		},
	}, {
		name: "scale-up window waits for a sustained rise",
		spec: hpa.Spec{Target: 50, ScaleUpWindow: 30 * time.Second, ScaleDownWindow: 30 * time.Second},
		steps: []step{
			{0, 1, 50, 1},
			{10, 1, 200, 1}, // wants 4; t=0 wanted 1, within the up window
			{20, 1, 200, 1},
			{30, 1, 200, 4}, // t=0 is 30 s old: out of the window (after the cut-off only)
			{40, 4, 50, 4},
			{50, 4, 0, 4}, // wants 0 (then 1, the minimum); t=30 and t=40 wanted 4
			{61, 4, 0, 4}, // t=40 still within the down window
			{71, 4, 0, 1}, // only t=50 and t=61 (0) are left
		},
	}, {
		name: "bounds apply after stabilisation",
		spec: hpa.Spec{Target: 50, Min: 2, Max: 3, ScaleDownWindow: 10 * time.Second},
		steps: []step{
			{0, 2, 500, 3},
			{5, 3, 0, 3},
			{16, 3, 0, 2},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := hpa.New(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				got := d.Decide(at(s.at), s.current, pods(int(s.current), s.usage))
				if got.Replicas != s.want {
					t.Errorf("step %d (t=%ds, current %d, usage %v): Replicas = %d, want %d (recommendation %d, ratio %.2f)",
						i, s.at, s.current, s.usage, got.Replicas, s.want, got.Recommendation, got.Ratio)
				}
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		spec  hpa.Spec
		field string
	}{
		{hpa.Spec{}, "Spec.Target"},
		{hpa.Spec{Target: -1}, "Spec.Target"},
		{hpa.Spec{Target: 80, Min: 3, Max: 2}, "Spec.Max"},
		{hpa.Spec{Target: 80, Tolerance: -0.1}, "Spec.Tolerance"},
		{hpa.Spec{Target: 80, ScaleUpWindow: -time.Second}, "Spec.ScaleUpWindow"},
		{hpa.Spec{Target: 80, ScaleDownWindow: -time.Second}, "Spec.ScaleDownWindow"},
	} {
		_, err := hpa.New(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tc.spec, err, tc.field)
		}
	}
	if _, err := hpa.New(hpa.Spec{Target: 80, Min: 2, Max: 2}); err != nil {
		t.Errorf("New(Min = Max = 2) = %v", err)
	}
}

// TestHistoryBounded checks that a long run keeps a bounded history (a
// sample older than both windows is reused) and stops allocating.
func TestHistoryBounded(t *testing.T) {
	d, err := hpa.New(hpa.Spec{Target: 50, ScaleDownWindow: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	u := pods(2, 40)
	for s := 0; s < 120; s += 15 {
		d.Decide(at(s), 2, u)
	}
	s := 120
	allocs := testing.AllocsPerRun(1000, func() {
		d.Decide(at(s), 2, u)
		s += 15
	})
	if allocs != 0 {
		t.Errorf("Decide allocates %v times per call once the history spans the window", allocs)
	}
}

func BenchmarkDecide(b *testing.B) {
	d, err := hpa.New(hpa.Spec{Target: 80, ScaleDownWindow: hpa.DefaultScaleDownWindow})
	if err != nil {
		b.Fatal(err)
	}
	u := []float64{70, 95, 120, 60}
	now := epoch
	for range 40 { // fill the 300 s window at a 15 s period
		d.Decide(now, 4, u)
		now = now.Add(15 * time.Second)
	}
	b.ReportAllocs()
	for b.Loop() {
		d.Decide(now, 4, u)
		now = now.Add(15 * time.Second)
	}
}
