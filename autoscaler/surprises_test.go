package autoscaler

import (
	"strings"
	"testing"
	"time"
)

// The numbered surprises of the reference's §9 not covered next to the code
// they concern. The others: 6–9, 12–14, 19 in decider_test.go; 10, 11,
// 16–18, 20 in collector_test.go.

// Surprise 1: rps utilisation is 0.7 unless the revision annotates it;
// container-concurrency-target-percentage applies to concurrency only and
// there is no target-utilization-percentage ConfigMap key.
func TestSurprise01RPSUtilisation(t *testing.T) {
	cfg := mustConfig(t, map[string]string{
		"container-concurrency-target-percentage": "50",
		"target-utilization-percentage":           "90", // not a ConfigMap key: ignored
	})
	for _, tc := range []struct {
		name string
		ann  map[string]string
		want float64
	}{
		{"rps default", map[string]string{AnnotationMetric: MetricRPS}, 140},
		{"rps annotated", map[string]string{AnnotationMetric: MetricRPS, AnnotationTargetUtilization: "50"}, 100},
		{"concurrency follows the ConfigMap", nil, 50},
	} {
		s, err := SpecFromAnnotations(cfg, tc.ann, 0)
		if err != nil || s.TargetValue != tc.want {
			t.Errorf("%s: target %v, %v; want %v", tc.name, s.TargetValue, err, tc.want)
		}
	}
}

// Surprise 2: values ≤ 1 are fractions; "1" is 100 % and 1 % cannot be said.
func TestSurprise02PercentageOrFraction(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{{"1", 1}, {"0.01", 0.01}, {"1.01", 0.0101}, {"100", 1}, {"70", 0.7}} {
		c := mustConfig(t, map[string]string{KeyContainerConcurrencyTargetPct: tc.in})
		if c.ContainerConcurrencyTargetFraction != tc.want {
			t.Errorf("%q → %v, want %v", tc.in, c.ContainerConcurrencyTargetFraction, tc.want)
		}
	}
}

// Surprise 3: Knative validates panic-threshold-percentage only as an
// annotation; servekit deliberately applies the same [110, 1000] bounds to
// the ConfigMap key (issue 17: -5 put every tick in panic).
func TestSurprise03PanicThresholdValidatedInConfigMapToo(t *testing.T) {
	for _, v := range []string{"50", "-5"} {
		if _, err := ConfigFromMap(map[string]string{KeyPanicThresholdPercentage: v}); err == nil || !strings.Contains(err.Error(), KeyPanicThresholdPercentage) {
			t.Errorf("ConfigMap threshold %s: err %v, want an error naming %s", v, err, KeyPanicThresholdPercentage)
		}
	}
	c := mustConfig(t, map[string]string{KeyPanicThresholdPercentage: "150"})
	s, err := SpecFromAnnotations(c, nil, 0)
	if err != nil || s.PanicThreshold != 1.5 {
		t.Errorf("ConfigMap threshold 150: %v, %v; want 1.5", s.PanicThreshold, err)
	}
	if _, err := SpecFromAnnotations(c, map[string]string{AnnotationPanicThresholdPct: "50"}, 0); err == nil {
		t.Error("annotation threshold 50 accepted, want rejected (range [110, 1000])")
	}
}

// Surprise 4: requests-per-second-target-default only needs ≥ 0.01.
func TestSurprise04RPSTargetMinimum(t *testing.T) {
	if _, err := ConfigFromMap(map[string]string{KeyRPSTargetDefault: "0.01"}); err != nil {
		t.Errorf("0.01 rejected: %v", err)
	}
	if _, err := ConfigFromMap(map[string]string{KeyRPSTargetDefault: "0.009"}); err == nil {
		t.Error("0.009 accepted")
	}
}

// Surprise 5: tick-interval is not read; the decider period is fixed at 2 s.
func TestSurprise05NoTickInterval(t *testing.T) {
	c := mustConfig(t, map[string]string{"tick-interval": "10s"})
	if c != DefaultConfig() {
		t.Error("tick-interval changed the config")
	}
	if TickInterval != 2*time.Second {
		t.Errorf("TickInterval = %v", TickInterval)
	}
	// The MultiScaler's decide loop runs on exactly TickInterval: stepping
	// the fake clock 1 s scrapes, 2 s decides (TestMultiScalerRunScrapesTicksAndPokes).
}

// Surprise 15: min-scale is ignored for unreachable revisions, and
// initial-scale only applies until the target first reached it. (Step
// scripts in TestBoundsScaleBounds; this is the short form.)
func TestSurprise15MinScaleAndInitialScale(t *testing.T) {
	s := mustSpec(t, nil, map[string]string{AnnotationMinScale: "2", AnnotationInitialScale: "4", AnnotationTargetBurstCapacity: "0"}, 0)

	reachable := NewBounds(s, epoch)
	before := reachable.Reconcile(sec(0), Status{DesiredScale: 1}, 0).Replicas // initial-scale floor: 4
	reachable.Reconcile(sec(2), Status{DesiredScale: 1}, 4)                    // initialised
	after := reachable.Reconcile(sec(4), Status{DesiredScale: 1}, 4).Replicas  // min-scale floor: 2

	s.Reachable = false
	unreachable := NewBounds(s, epoch)
	un := unreachable.Reconcile(sec(0), Status{DesiredScale: 1}, 1).Replicas // neither floor applies

	if before != 4 || after != 2 || un != 1 {
		t.Errorf("replicas: before init %d (want 4), after init %d (want 2), unreachable %d (want 1)", before, after, un)
	}
}
