package sim_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/sim"
)

// TestValidate covers traces built in Go, which skip DecodeTrace: Simulate
// rejects them with the same field names.
func TestValidate(t *testing.T) {
	ok := func() *sim.Trace {
		return &sim.Trace{Duration: 10 * time.Second, Samples: []sim.Sample{{At: 0, Concurrency: 1}, {At: 4 * time.Second, RPS: 2}}}
	}
	tests := []struct {
		name   string
		modify func(*sim.Trace)
		want   string
	}{
		{"zero duration", func(tr *sim.Trace) { tr.Duration = 0 }, "sim: duration: 0s must be in (0s, 24h]"},
		{"too long", func(tr *sim.Trace) { tr.Duration = 25 * time.Hour }, "sim: duration: 25h0m0s must be in"},
		{"fractional duration", func(tr *sim.Trace) { tr.Duration = 1500 * time.Millisecond }, "sim: duration: 1.5s must be whole seconds"},
		{"negative podStartup", func(tr *sim.Trace) { tr.PodStartup = -time.Second }, "sim: podStartup: -1s"},
		{"partial spec", func(tr *sim.Trace) { tr.Spec = autoscaler.Spec{StableWindow: time.Minute} }, "sim: spec: target 0 must be positive"},
		{"fractional at", func(tr *sim.Trace) { tr.Samples[1].At = 1500 * time.Millisecond }, "sim: samples[1].at: 1.5s must be whole seconds"},
		{"negative at", func(tr *sim.Trace) { tr.Samples[0].At = -time.Second }, "sim: samples[0].at: -1s must be in [0s, duration (10s)]"},
		{"at after duration", func(tr *sim.Trace) { tr.Samples[1].At = 11 * time.Second }, "sim: samples[1].at: 11s must be in"},
		{"out of order", func(tr *sim.Trace) { tr.Samples[1].At = 0 }, "sim: samples[1].at: 0s is not after samples[0].at (0s)"},
		{"noData with load", func(tr *sim.Trace) { tr.Samples[1].NoData = true }, "sim: samples[1].noData:"},
		{"NaN concurrency", func(tr *sim.Trace) { tr.Samples[0].Concurrency = math.NaN() }, "sim: samples[0].concurrency: NaN"},
		{"infinite rps", func(tr *sim.Trace) { tr.Samples[1].RPS = math.Inf(1) }, "sim: samples[1].rps: +Inf"},
		{"negative readyPods", func(tr *sim.Trace) { tr.Samples[0].ReadyPods, tr.Samples[0].HasReadyPods = -1, true }, "sim: samples[0].readyPods: -1"},
	}
	if err := ok().Validate(); err != nil {
		t.Fatalf("valid trace: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := ok()
			tc.modify(tr)
			if err := tr.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want it to contain %q", err, tc.want)
			}
			if ticks, err := sim.Simulate(tr); err == nil || ticks != nil {
				t.Errorf("Simulate() = %d ticks, %v; want the validation error", len(ticks), err)
			}
		})
	}
}

// TestIgnoredReadyPods: ReadyPods without HasReadyPods is not an override
// and not validated.
func TestIgnoredReadyPods(t *testing.T) {
	tr := &sim.Trace{Duration: 4 * time.Second, Samples: []sim.Sample{{At: 0, ReadyPods: -5}}}
	ticks := simulate(t, tr)
	if ticks[0].ReadyPods != 1 {
		t.Errorf("ready pods %d, want the simulated 1", ticks[0].ReadyPods)
	}
}

func TestZeroSpecMeansDefaults(t *testing.T) {
	samples := []sim.Sample{{At: 0, Concurrency: 150}, {At: 20 * time.Second, Concurrency: 700}, {At: 50 * time.Second, NoData: true}}
	zero := simulate(t, &sim.Trace{Duration: 2 * time.Minute, Samples: samples})
	spec, err := autoscaler.SpecFromAnnotations(autoscaler.DefaultConfig(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	explicit := simulate(t, &sim.Trace{Spec: spec, Duration: 2 * time.Minute, Samples: samples})
	if diff := cmp.Diff(explicit, zero); diff != "" {
		t.Errorf("zero Spec differs from the defaults (-defaults +zero):\n%s", diff)
	}
	if maxScale := slicesMaxScale(zero); maxScale < 2 {
		t.Errorf("max scale %d: the trace should scale out at the default target", maxScale)
	}
}

func slicesMaxScale(ticks []sim.Tick) int32 {
	m := int32(0)
	for _, t := range ticks {
		m = max(m, t.Scale)
	}
	return m
}

// TestSimulateBeforeFirstSample: seconds before the first sample record
// nothing, like noData.
func TestSimulateBeforeFirstSample(t *testing.T) {
	tr := &sim.Trace{Duration: 8 * time.Second, Samples: []sim.Sample{{At: 4 * time.Second, Concurrency: 100}}}
	ticks := simulate(t, tr)
	got := []bool{}
	for _, tk := range ticks {
		got = append(got, tk.Valid)
	}
	if diff := cmp.Diff([]bool{false, true, true, true}, got); diff != "" {
		t.Errorf("valid per tick (-want +got):\n%s", diff)
	}
}
