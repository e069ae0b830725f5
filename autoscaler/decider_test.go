package autoscaler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// epoch is t = 0 for every time-driven test: the Unix epoch, so 2 s
// scale-down-delay slots line up with the ticks.
var epoch = time.Unix(0, 0)

func sec(s float64) time.Time { return epoch.Add(time.Duration(s * float64(time.Second))) }

func mustSpec(t testing.TB, cfg map[string]string, ann map[string]string, cc int64) Spec {
	t.Helper()
	s, err := SpecFromAnnotations(mustConfig(t, cfg), ann, cc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tick is one row of a decider step script.
type tick struct {
	at            float64 // seconds
	ready         int32
	stable, panic float64
	noData        bool
	want          Decision // Changed is not compared
}

func runScript(t *testing.T, d *Decider, rows []tick) {
	t.Helper()
	for _, r := range rows {
		got := d.Decide(sec(r.at), Observation{ReadyPods: r.ready, Stable: r.stable, Panic: r.panic, NoData: r.noData})
		got.Changed = false
		if diff := cmp.Diff(r.want, got); diff != "" {
			t.Errorf("t=%vs (-want +got):\n%s", r.at, diff)
		}
	}
}

// target10 is a spec with a per-pod target of exactly 10 and TBC 0.
var target10 = map[string]string{AnnotationTarget: "10", AnnotationTargetUtilization: "100", AnnotationTargetBurstCapacity: "0"}

func TestDeciderRateLimits(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]string
		ann  map[string]string
		init int32
		rows []tick
	}{{
		name: "up rate caps at ceil(rate × max(1, ready))",
		cfg:  map[string]string{"max-scale-up-rate": "2.5"},
		ann:  target10,
		rows: []tick{
			{at: 2, ready: 0, stable: 100, want: Decision{DesiredPodCount: 3, Valid: true}},
			{at: 4, ready: 2, stable: 100, want: Decision{DesiredPodCount: 5, Valid: true}},
		},
	}, {
		name: "down rate floors at floor(max(1, ready) / rate)",
		ann:  target10,
		init: 1,
		rows: []tick{
			{at: 2, ready: 10, stable: 0, want: Decision{DesiredPodCount: 5, Valid: true}},
			{at: 4, ready: 5, stable: 0, want: Decision{DesiredPodCount: 2, Valid: true}},
			{at: 6, ready: 1, stable: 0, want: Decision{DesiredPodCount: 0, Valid: true}},
		},
	}, {
		name: "stable desire is ceil(stable / target)",
		ann:  target10,
		rows: []tick{
			{at: 2, ready: 1, stable: 10.01, panic: 10.01, want: Decision{DesiredPodCount: 2, Valid: true, Panic: true}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runScript(t, NewDecider(mustSpec(t, tc.cfg, tc.ann, 0), tc.init, epoch), tc.rows)
		})
	}

	t.Run("unreachable revisions skip the down-rate limit", func(t *testing.T) {
		s := mustSpec(t, nil, target10, 0)
		s.Reachable = false
		runScript(t, NewDecider(s, 1, epoch), []tick{{at: 2, ready: 10, want: Decision{DesiredPodCount: 0, Valid: true}}})
	})
}

// Surprise 6: panic compares pods, so at small scale it is eager.
func TestSurprise06PanicComparesPods(t *testing.T) {
	d := NewDecider(mustSpec(t, nil, target10, 0), 1, epoch)
	// 1 ready pod, target 10, panic concurrency 11: ceil(11/10) = 2 pods ≥ 2 × 1.
	runScript(t, d, []tick{
		{at: 2, ready: 1, stable: 11, panic: 11, want: Decision{DesiredPodCount: 2, Valid: true, Panic: true}},
	})
	d2 := NewDecider(mustSpec(t, nil, target10, 0), 1, epoch)
	runScript(t, d2, []tick{
		{at: 2, ready: 1, stable: 10, panic: 10, want: Decision{DesiredPodCount: 1, Valid: true}},
	})
}

// Surprise 7: panic lasts a stable window after the last over-threshold
// tick, never decreases and uses the larger desire.
func TestSurprise07PanicRatchetAndExit(t *testing.T) {
	d := NewDecider(mustSpec(t, nil, target10, 0), 1, epoch)
	runScript(t, d, []tick{
		{at: 2, ready: 1, stable: 5, panic: 30, want: Decision{DesiredPodCount: 3, Valid: true, Panic: true}},
		{at: 4, ready: 3, stable: 5, panic: 10, want: Decision{DesiredPodCount: 3, Valid: true, Panic: true}},   // not over, ratchet holds 3
		{at: 6, ready: 3, stable: 45, panic: 10, want: Decision{DesiredPodCount: 5, Valid: true, Panic: true}},  // stable desire larger: 5
		{at: 8, ready: 5, stable: 5, panic: 100, want: Decision{DesiredPodCount: 10, Valid: true, Panic: true}}, // over again: extends to 8
		{at: 68, ready: 10, stable: 5, panic: 5, want: Decision{DesiredPodCount: 10, Valid: true, Panic: true}}, // 8+60 is not before 68
		{at: 70, ready: 10, stable: 5, panic: 5, want: Decision{DesiredPodCount: 5, Valid: true}},               // exit; down rate: floor(10/2)
	})
}

// Surprise 8: a decider created with more than one ready pod starts in panic.
func TestSurprise08StartsInPanic(t *testing.T) {
	s := mustSpec(t, nil, target10, 0)
	d := NewDecider(s, 4, epoch)
	if !d.Panicking() {
		t.Fatal("decider with 4 ready pods is not panicking")
	}
	runScript(t, d, []tick{
		{at: 2, ready: 4, want: Decision{DesiredPodCount: 4, Valid: true, Panic: true}},
		{at: 60, ready: 4, want: Decision{DesiredPodCount: 4, Valid: true, Panic: true}},
		{at: 62, ready: 4, want: Decision{DesiredPodCount: 2, Valid: true}},
	})
	if NewDecider(s, 1, epoch).Panicking() {
		t.Error("decider with 1 ready pod is panicking")
	}
}

// Surprise 9: activation-scale is a floor whenever there is any traffic.
func TestSurprise09ActivationScaleFloor(t *testing.T) {
	ann := map[string]string{AnnotationTarget: "10", AnnotationTargetUtilization: "100", AnnotationActivationScale: "3"}
	d := NewDecider(mustSpec(t, map[string]string{"max-scale-up-rate": "2"}, ann, 0), 0, epoch)
	runScript(t, d, []tick{
		{at: 2, ready: 0, stable: 1, panic: 1, want: Decision{DesiredPodCount: 3, Valid: true, ExcessBurstCapacity: -212}}, // above maxUp = 2
		{at: 4, ready: 3, stable: 5, panic: 5, want: Decision{DesiredPodCount: 3, Valid: true, ExcessBurstCapacity: -186}}, // load worth 1 pod keeps 3
		{at: 6, ready: 3, stable: 0, panic: 0, want: Decision{DesiredPodCount: 1, Valid: true, ExcessBurstCapacity: -181}}, // no traffic: no floor
	})
}

// Surprise 12: the scale-down-delay window exists only if the decider was
// created with a delay, and unreachable revisions skip it.
func TestSurprise12ScaleDownDelay(t *testing.T) {
	delay := mustSpec(t, map[string]string{"scale-down-delay": "10s"}, target10, 0)
	rows := []tick{
		{at: 2, stable: 50, want: Decision{DesiredPodCount: 5, Valid: true}}, // slot 1
		{at: 4, want: Decision{DesiredPodCount: 5, Valid: true}},
		{at: 10, want: Decision{DesiredPodCount: 5, Valid: true}}, // slot 5: 1 + 5 slots not yet reached
		{at: 12, want: Decision{DesiredPodCount: 0, Valid: true}}, // slot 6: forgotten after 5 × 2 s
	}
	t.Run("holds for ceil(delay/2s) slots", func(t *testing.T) {
		runScript(t, NewDecider(delay, 0, epoch), rows)
	})
	t.Run("spec update keeps the window of creation", func(t *testing.T) {
		d := NewDecider(delay, 0, epoch)
		d.UpdateSpec(mustSpec(t, nil, target10, 0))
		runScript(t, d, rows)
	})
	t.Run("created without delay never delays", func(t *testing.T) {
		d := NewDecider(mustSpec(t, nil, target10, 0), 0, epoch)
		d.UpdateSpec(delay)
		runScript(t, d, []tick{
			{at: 2, stable: 50, want: Decision{DesiredPodCount: 5, Valid: true}},
			{at: 4, want: Decision{DesiredPodCount: 0, Valid: true}},
		})
	})
	t.Run("unreachable skips the window", func(t *testing.T) {
		s := delay
		s.Reachable = false
		runScript(t, NewDecider(s, 0, epoch), []tick{
			{at: 2, stable: 50, want: Decision{DesiredPodCount: 5, Valid: true}},
			{at: 4, want: Decision{DesiredPodCount: 0, Valid: true}},
		})
	})
}

// Surprise 13: EBC uses TotalValue and the panic-window value, for rps too.
func TestSurprise13ExcessBurstCapacity(t *testing.T) {
	tests := []struct {
		name  string
		ann   map[string]string
		ready int32
		panic float64
		want  int32
	}{
		{"concurrency: 2×100 − 211 − 50", nil, 2, 50, -61},
		{"three idle pods: 300 − 211", nil, 3, 0, 89},
		{"zero ready pods", nil, 0, 0, -211},
		{"TBC 0 is always 0", map[string]string{AnnotationTargetBurstCapacity: "0"}, 0, 500, 0},
		{"TBC -1 is always -1", map[string]string{AnnotationTargetBurstCapacity: "-1"}, 100, 0, -1},
		{"rps mixes units: 200 − 211 − 100", map[string]string{AnnotationMetric: "rps"}, 1, 100, -111},
		{"floors, not truncates", map[string]string{AnnotationTargetBurstCapacity: "100.5"}, 1, 0, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecider(mustSpec(t, nil, tc.ann, 0), 0, epoch)
			got := d.Decide(sec(2), Observation{ReadyPods: tc.ready, Panic: tc.panic})
			if got.ExcessBurstCapacity != tc.want {
				t.Errorf("EBC = %d, want %d", got.ExcessBurstCapacity, tc.want)
			}
		})
	}
}

// Surprise 14: the initial status truncates, per-tick EBC floors.
func TestSurprise14InitialStatus(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		want Status
	}{
		{"defaults: 1×100 − 211", nil, Status{DesiredScale: -1, ExcessBurstCapacity: -111}},
		{"truncation: 1×100 − 100.5 = −0.5 → 0", map[string]string{AnnotationTargetBurstCapacity: "100.5"}, Status{DesiredScale: -1, ExcessBurstCapacity: 0}},
		{"initial scale 3: 300 − 211", map[string]string{AnnotationInitialScale: "3"}, Status{DesiredScale: -1, ExcessBurstCapacity: 89}},
		{"TBC 0", map[string]string{AnnotationTargetBurstCapacity: "0"}, Status{DesiredScale: -1}},
		{"TBC -1", map[string]string{AnnotationTargetBurstCapacity: "-1"}, Status{DesiredScale: -1, ExcessBurstCapacity: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NewDecider(mustSpec(t, nil, tc.ann, 0), 0, epoch).Status()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Surprise 19: only a decider whose last decision was exactly 0 is poked.
func TestSurprise19Poke(t *testing.T) {
	d := NewDecider(mustSpec(t, nil, nil, 0), 0, epoch)
	if d.ShouldPoke(1) {
		t.Error("fresh decider (status -1) poked")
	}
	d.Decide(sec(2), Observation{})
	if !d.ShouldPoke(1) {
		t.Error("decider at 0 not poked by a stat with load")
	}
	if d.ShouldPoke(0) {
		t.Error("decider poked by a zero stat")
	}
	d.Decide(sec(4), Observation{Stable: 1})
	if d.ShouldPoke(1) {
		t.Error("decider at 1 poked")
	}
}

func TestDeciderNoDataKeepsStatus(t *testing.T) {
	d := NewDecider(mustSpec(t, nil, target10, 0), 1, epoch)
	runScript(t, d, []tick{
		{at: 2, noData: true, want: Decision{DesiredPodCount: -1}},
		{at: 4, ready: 1, stable: 30, panic: 30, want: Decision{DesiredPodCount: 3, Valid: true, Panic: true}},
		{at: 6, noData: true, want: Decision{DesiredPodCount: 3, Panic: true}},
	})
}

func TestDeciderChanged(t *testing.T) {
	d := NewDecider(mustSpec(t, nil, nil, 0), 0, epoch)
	var got []bool
	for i, o := range []Observation{
		{},                           // -1 → 0: changed
		{},                           // same
		{ReadyPods: 3},               // EBC −211 → 89: sign flip
		{ReadyPods: 3, Panic: 0.5},   // 88: same sign, desired still 1 (down rate) → no change
		{ReadyPods: 3, Stable: 1000}, // desired up
		{ReadyPods: 3, NoData: true}, // invalid
	} {
		got = append(got, d.Decide(sec(float64(2*i+2)), o).Changed)
	}
	if diff := cmp.Diff([]bool{true, false, true, false, true, false}, got); diff != "" {
		t.Errorf("Changed per tick (-want +got):\n%s", diff)
	}
}

func TestDeciderDoesNotAllocate(t *testing.T) {
	d := NewDecider(mustSpec(t, map[string]string{"scale-down-delay": "30s"}, nil, 0), 3, epoch)
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		i++
		d.Decide(sec(float64(2*i)), Observation{ReadyPods: 3, Stable: float64(i % 400), Panic: float64(i % 300)})
	})
	if allocs != 0 {
		t.Errorf("Decide allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkDeciderDecide(b *testing.B) {
	d := NewDecider(mustSpec(b, map[string]string{"scale-down-delay": "30s"}, nil, 0), 3, epoch)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Decide(sec(float64(2*i)), Observation{ReadyPods: 3, Stable: float64(i % 400), Panic: float64(i % 300)})
	}
}

// TestDeciderAndBoundsCopiesKeepTheirSpecs: a copy of a Decider or a
// Bounds given a new spec must not change the original's spec (both hold
// their spec by pointer and replace it on UpdateSpec).
func TestDeciderAndBoundsCopiesKeepTheirSpecs(t *testing.T) {
	a, b := mustSpec(t, nil, target10, 0), mustSpec(t, nil, nil, 0)
	d := NewDecider(a, 0, epoch)
	dc := *d
	dc.UpdateSpec(b)
	if d.Spec() != a || dc.Spec() != b {
		t.Errorf("Decider copy: original spec target %v, copy %v; want %v, %v",
			d.Spec().TargetValue, dc.Spec().TargetValue, a.TargetValue, b.TargetValue)
	}
	bo := NewBounds(a, epoch)
	bc := *bo
	bc.UpdateSpec(b)
	if *bo.spec != a || *bc.spec != b {
		t.Errorf("Bounds copy: original spec target %v, copy %v; want %v, %v",
			bo.spec.TargetValue, bc.spec.TargetValue, a.TargetValue, b.TargetValue)
	}
}
