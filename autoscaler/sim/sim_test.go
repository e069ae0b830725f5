package sim_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/autoscaler/sim"
)

func loadTrace(t *testing.T, name string) *sim.Trace {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := sim.DecodeTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func simulate(t *testing.T, tr *sim.Trace) []sim.Tick {
	t.Helper()
	ticks, err := sim.Simulate(tr)
	if err != nil {
		t.Fatal(err)
	}
	return ticks
}

// first returns the time in seconds of the first tick satisfying f, or -1.
func first(ticks []sim.Tick, f func(sim.Tick) bool) int {
	for _, t := range ticks {
		if f(t) {
			return secs(t)
		}
	}
	return -1
}

// last returns the time in seconds of the last tick satisfying f, or -1.
func last(ticks []sim.Tick, f func(sim.Tick) bool) int {
	r := -1
	for _, t := range ticks {
		if f(t) {
			r = secs(t)
		}
	}
	return r
}

// secs is a tick's time in whole seconds.
func secs(t sim.Tick) int { return int(t.At / time.Second) }

func TestSteady(t *testing.T) {
	ticks := simulate(t, loadTrace(t, "steady.json"))
	// 30 concurrent at target 10 from one pod: ceil(30/10)/1 = 3 ≥ 2, so the
	// first tick panics; panic lasts a stable window past t=2 (exits at 64).
	got := map[string]int{
		"ticks":            len(ticks),
		"first panic":      first(ticks, func(t sim.Tick) bool { return t.Panic }),
		"first calm":       first(ticks, func(t sim.Tick) bool { return !t.Panic }),
		"first scale != 3": first(ticks, func(t sim.Tick) bool { return t.Scale != 3 }),
		"first invalid":    first(ticks, func(t sim.Tick) bool { return !t.Valid }),
	}
	want := map[string]int{"ticks": 60, "first panic": 2, "first calm": 64, "first scale != 3": -1, "first invalid": -1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestBurst(t *testing.T) {
	ticks := simulate(t, loadTrace(t, "burst.json"))
	maxScale := int32(0)
	for _, tk := range ticks {
		maxScale = max(maxScale, tk.Scale)
	}
	got := map[string]int{
		// The burst starts at 30 s: the panic window (6 s) holds
		// (5×5+80)/6 = 17.5 → 2 pods for 1 ready pod → panic at once.
		"first panic": first(ticks, func(t sim.Tick) bool { return t.Panic }),
		// Last over-threshold tick is 34 s (7 pods wanted, 2 ready);
		// panic ends once 60 s have passed since then.
		"first calm after panic": first(ticks, func(t sim.Tick) bool { return secs(t) > 30 && !t.Panic }),
		"max scale":              int(maxScale),
		// The ratchet keeps 8 pods through the whole panic.
		"last 8":        last(ticks, func(t sim.Tick) bool { return t.Scale == 8 }),
		"final scale":   int(ticks[len(ticks)-1].Scale),
		"ready 0 at 2s": int(ticks[0].ReadyPods), // podStartup 3 s
	}
	want := map[string]int{"first panic": 30, "first calm after panic": 96, "max scale": 8,
		"last 8": 94, "final scale": 1, "ready 0 at 2s": 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDrainToZero(t *testing.T) {
	ticks := simulate(t, loadTrace(t, "drain-to-zero.json"))
	got := map[string]int{
		// Load stops at 30 s; the stable average is exactly 0 once the
		// 60 s window holds no non-zero second (second 29 leaves at 90 s).
		"first desired 0": first(ticks, func(t sim.Tick) bool { return t.Desired == 0 }),
		// Then the revision goes inactive (activator in path, TBC 0) and
		// the last pod goes after the 30 s grace period.
		"first scale 0":       first(ticks, func(t sim.Tick) bool { return t.Scale == 0 }),
		"last scale > 0":      last(ticks, func(t sim.Tick) bool { return t.Scale > 0 }),
		"first ready 0 after": first(ticks, func(t sim.Tick) bool { return secs(t) > 2 && t.ReadyPods == 0 }),
	}
	want := map[string]int{"first desired 0": 90, "first scale 0": 120, "last scale > 0": 118, "first ready 0 after": 122}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestScaleDownDelay(t *testing.T) {
	tr := loadTrace(t, "scale-down-delay.json")
	delayed := simulate(t, tr)
	tr.Spec.ScaleDownDelay = 0
	undelayed := simulate(t, tr)
	peak := func(t sim.Tick) bool { return t.Desired == 5 }
	lastPeak := last(undelayed, peak)
	reached := first(undelayed, peak)
	got := map[string]int{
		"undelayed last 5": lastPeak,
		// A 30 s delay is 15 two-second slots: the 5 decided at lastPeak
		// keeps holding the output until lastPeak + 30 s.
		"delayed first below 5": first(delayed, func(t sim.Tick) bool { return secs(t) > reached && t.Scale < 5 }),
		"undelayed first below": first(undelayed, func(t sim.Tick) bool { return secs(t) > reached && t.Scale < 5 }),
	}
	want := map[string]int{"undelayed last 5": lastPeak, "delayed first below 5": lastPeak + 30, "undelayed first below": lastPeak + 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if lastPeak < 80 {
		t.Errorf("undelayed last 5 at %ds; the trace should hold 5 pods through the load", lastPeak)
	}
}

func TestReadyPodsOverrideStartsInPanic(t *testing.T) {
	// Surprise 8 through the simulator: more than one ready pod at t=0.
	tr, err := sim.DecodeTrace(strings.NewReader(`{"duration":"4s","samples":[{"at":"0s","concurrency":1,"readyPods":3}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ticks := simulate(t, tr)
	if !ticks[0].Panic || ticks[0].Desired != 3 || ticks[0].ReadyPods != 3 {
		t.Errorf("first tick %+v, want panic holding 3 pods", ticks[0])
	}
}

func TestNoDataKeepsDecision(t *testing.T) {
	tr, err := sim.DecodeTrace(strings.NewReader(`{"config":{"stable-window":"10s"},"duration":"30s",
		"samples":[{"at":"0s","concurrency":150},{"at":"4s","noData":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ticks := simulate(t, tr)
	// Last data at 3 s; the 10 s stable window is empty strictly after 13 s.
	got := first(ticks, func(t sim.Tick) bool { return !t.Valid })
	if got != 14 {
		t.Errorf("first invalid tick at %ds, want 14", got)
	}
	for _, tk := range ticks {
		if !tk.Valid && tk.Desired != ticks[0].Desired {
			t.Errorf("invalid tick %ds changed desired to %d", tk.At, tk.Desired)
		}
	}
}

func TestBadTraces(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", `{`, "trace"},
		{"unknown field", `{"duration":"10s","durration":"1s"}`, `"durration"`},
		{"wrong type", `{"duration":10}`, "duration"},
		{"missing duration", `{}`, "duration: required"},
		{"bad duration", `{"duration":"ten"}`, "duration"},
		{"fractional duration", `{"duration":"1.5s"}`, "whole seconds"},
		{"negative podStartup", `{"duration":"10s","podStartup":"-1s"}`, "podStartup"},
		{"config error names the key", `{"duration":"10s","config":{"stable-window":"5s"}}`, "config: autoscaler: stable-window"},
		{"annotation error names the key", `{"duration":"10s","annotations":{"autoscaling.knative.dev/target":"0"}}`, "annotations: autoscaler: annotation autoscaling.knative.dev/target"},
		{"negative containerConcurrency", `{"duration":"10s","containerConcurrency":-1}`, "containerConcurrency"},
		{"sample without at", `{"duration":"10s","samples":[{"concurrency":1}]}`, "samples[0].at: required"},
		{"sample unknown field", `{"duration":"10s","samples":[{"at":"0s"},{"at":"1s","conc":1}]}`, `samples[1]: json: unknown field "conc"`},
		{"sample wrong type", `{"duration":"10s","samples":[{"at":"0s","concurrency":"1"}]}`, "samples[0]: concurrency"},
		{"negative concurrency", `{"duration":"10s","samples":[{"at":"0s","concurrency":-1}]}`, "samples[0].concurrency"},
		{"negative rps", `{"duration":"10s","samples":[{"at":"0s"},{"at":"2s","rps":-5}]}`, "samples[1].rps"},
		{"negative readyPods", `{"duration":"10s","samples":[{"at":"0s","readyPods":-1}]}`, "samples[0].readyPods"},
		{"out of order", `{"duration":"10s","samples":[{"at":"5s"},{"at":"5s"}]}`, "samples[1].at"},
		{"after duration", `{"duration":"10s","samples":[{"at":"11s"}]}`, "samples[0].at"},
		{"fractional at", `{"duration":"10s","samples":[{"at":"0.5s"}]}`, "samples[0].at"},
		{"noData with load", `{"duration":"10s","samples":[{"at":"0s","noData":true,"concurrency":3}]}`, "samples[0].noData"},
		{"trailing data", `{"duration":"10s"} {}`, "after the JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := sim.DecodeTrace(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "sim: ") {
				t.Errorf("err = %v, want the sim: prefix", err)
			}
			if tr != nil {
				t.Errorf("DecodeTrace returned a trace with its error: %+v", tr)
			}
		})
	}
}

func FuzzDecodeTrace(f *testing.F) {
	for _, name := range []string{"steady.json", "burst.json", "drain-to-zero.json", "scale-down-delay.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"duration":"4s","samples":[{"at":"0s","readyPods":3},{"at":"2s","noData":true}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := sim.DecodeTrace(bytes.NewReader(b))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sim: ") {
				t.Fatalf("error without the sim: prefix: %v", err)
			}
			return
		}
		if tr.Duration > 600e9 { // keep each fuzz run short
			return
		}
		ticks, err := sim.Simulate(tr)
		if err != nil {
			t.Fatalf("Simulate: %v", err)
		}
		if want := int(tr.Duration.Seconds()) / 2; len(ticks) != want {
			t.Fatalf("%d ticks for %v, want %d", len(ticks), tr.Duration, want)
		}
		for _, tk := range ticks {
			if tk.Scale < 0 || tk.ReadyPods < 0 {
				t.Fatalf("negative output %+v", tk)
			}
			// The JSON form round-trips (all but the CSV-only fields).
			b, err := json.Marshal(tk)
			if err != nil {
				t.Fatalf("Marshal %+v: %v", tk, err)
			}
			var back sim.Tick
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("Unmarshal %s: %v", b, err)
			}
			tk.State, tk.ActivatorInPath = 0, false
			if back != tk {
				t.Fatalf("round trip of %s: got %+v, want %+v", b, back, tk)
			}
		}
	})
}

func TestIssueExampleLine(t *testing.T) {
	// The output line quoted in the format's documentation, reproduced:
	// total 99 at 10 % → target 9.9, so 10 in flight wants 2 pods; a 300 %
	// threshold keeps it out of panic; EBC = floor(1×99 − 211 − 10) = −122.
	in := `{"annotations":{"autoscaling.knative.dev/target":"99",
		"autoscaling.knative.dev/target-utilization-percentage":"10",
		"autoscaling.knative.dev/panic-threshold-percentage":"300"},
		"duration":"2s","samples":[{"at":"0s","concurrency":10}]}`
	tr, err := sim.DecodeTrace(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := sim.WriteJSONLines(&out, simulate(t, tr)); err != nil {
		t.Fatal(err)
	}
	want := `{"at":"2s","readyPods":1,"stableConcurrency":10,"panicConcurrency":10,"stableRPS":0,"panicRPS":0,"desired":2,"excessBurstCapacity":-122,"panic":false,"scale":2,"valid":true}` + "\n"
	if out.String() != want {
		t.Errorf("got  %swant %s", out.String(), want)
	}
}

// BenchmarkSimulate replays burst.json (180 s, 90 ticks).
func BenchmarkSimulate(b *testing.B) {
	f, err := os.Open(filepath.Join("testdata", "burst.json"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	tr, err := sim.DecodeTrace(f)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sim.Simulate(tr); err != nil {
			b.Fatal(err)
		}
	}
}
