package autoscaler

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustConfig(t testing.TB, m map[string]string) Config {
	t.Helper()
	c, err := ConfigFromMap(m)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSpecTotalsAndTargets(t *testing.T) {
	type tv struct{ Total, Target float64 }
	tests := []struct {
		name string
		ann  map[string]string
		cc   int64
		want tv
	}{
		{"CC=0 uses the default 100 × 70 %", nil, 0, tv{100, 70}},
		{"CC=10", nil, 10, tv{10, 7}},
		{"rps uses 200 × 0.7", map[string]string{AnnotationMetric: "rps"}, 0, tv{200, 140}},
		{"rps ignores CC", map[string]string{AnnotationMetric: "rps"}, 10, tv{200, 140}},
		{"target annotation", map[string]string{AnnotationTarget: "50"}, 0, tv{50, 35}},
		{"target annotation min'd with CC", map[string]string{AnnotationTarget: "50"}, 10, tv{10, 7}},
		{"rps target not min'd with CC", map[string]string{AnnotationMetric: "rps", AnnotationTarget: "50"}, 10, tv{50, 35}},
		{"utilisation annotation", map[string]string{AnnotationTargetUtilization: "50"}, 0, tv{100, 50}},
		{"legacy utilisation alias", map[string]string{AnnotationPrefix + "targetUtilizationPercentage": "40"}, 0, tv{100, 40}},
		{"kebab wins over alias", map[string]string{AnnotationTargetUtilization: "50", AnnotationPrefix + "targetUtilizationPercentage": "40"}, 0, tv{100, 50}},
		{"target floored at 0.01", map[string]string{AnnotationTarget: "0.01", AnnotationTargetUtilization: "1"}, 0, tv{0.01, 0.01}},
	}
	cfg := DefaultConfig()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := SpecFromAnnotations(cfg, tc.ann, tc.cc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, tv{s.TotalValue, s.TargetValue}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSpecRPSUtilisationNotFromConfigMap(t *testing.T) {
	// §9.1: container-concurrency-target-percentage does not touch rps.
	cfg := mustConfig(t, map[string]string{"container-concurrency-target-percentage": "50"})
	conc, _ := SpecFromAnnotations(cfg, nil, 0)
	rps, _ := SpecFromAnnotations(cfg, map[string]string{AnnotationMetric: "rps"}, 0)
	if conc.TargetValue != 50 || rps.TargetValue != 140 {
		t.Errorf("targets conc=%v rps=%v, want 50 and 140", conc.TargetValue, rps.TargetValue)
	}
}

func TestSpecDerived(t *testing.T) {
	cfg := DefaultConfig()
	s, err := SpecFromAnnotations(cfg, map[string]string{
		AnnotationWindow:                  "100s",
		AnnotationPanicWindowPercentage:   "51",
		AnnotationPanicThresholdPct:       "150",
		AnnotationPrefix + "minScale":     "1",
		AnnotationMaxScale:                "9",
		AnnotationInitialScale:            "3",
		AnnotationActivationScale:         "4",
		AnnotationScaleDownDelay:          "10s",
		AnnotationScaleToZeroPodRetention: "1500ms",
		AnnotationMetricAggregation:       "weightedExponential",
		AnnotationTargetBurstCapacity:     "0",
		AnnotationProgressDeadline:        "100s",
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{
		Class: ClassKPA, Metric: MetricConcurrency, Algorithm: AlgorithmWeightedExponential,
		TotalValue: 100, TargetValue: 70, PanicThreshold: 1.5, TargetBurstCapacity: 0,
		StableWindow: 100 * time.Second, WindowSet: true, PanicWindow: 51 * time.Second, ScaleDownDelay: 10 * time.Second,
		MaxScaleUpRate: 1000, MaxScaleDownRate: 2, ActivatorCapacity: 100, ActivationScale: 4,
		MinScale: 1, MaxScale: 9, InitialScale: 3, EnableScaleToZero: true,
		ScaleToZeroGracePeriod: 30 * time.Second, ScaleToZeroPodRetentionPeriod: 1500 * time.Millisecond,
		ActivationTimeout: 130 * time.Second, Reachable: true,
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPanicWindowFor(t *testing.T) {
	for _, tc := range []struct {
		stable time.Duration
		pct    float64
		want   time.Duration
	}{
		{60 * time.Second, 10, 6 * time.Second},
		{10 * time.Second, 10, time.Second},
		{10 * time.Minute, 10, 60 * time.Second},
		{60 * time.Second, 51, 31 * time.Second}, // 30.6 s rounds to 31
		{6 * time.Second, 1, time.Second},        // floored at 1 s
		{50 * time.Second, 1, time.Second},       // 0.5 s rounds half away from zero
	} {
		if got := PanicWindowFor(tc.stable, tc.pct); got != tc.want {
			t.Errorf("PanicWindowFor(%v, %v) = %v, want %v", tc.stable, tc.pct, got, tc.want)
		}
	}
}

func TestSpecAnnotationErrors(t *testing.T) {
	limit := mustConfig(t, map[string]string{"max-scale-limit": "10", "max-scale": "5"})
	tests := []struct {
		name string
		cfg  Config
		ann  map[string]string
		want []string
	}{
		{"bad class in knative.dev", DefaultConfig(), map[string]string{AnnotationClass: "foo.knative.dev"}, []string{AnnotationClass, "foo.knative.dev"}},
		{"bad KPA metric", DefaultConfig(), map[string]string{AnnotationMetric: "cpu"}, []string{AnnotationMetric, "cpu"}},
		{"empty HPA metric", DefaultConfig(), map[string]string{AnnotationClass: ClassHPA, AnnotationMetric: ""}, []string{AnnotationMetric}},
		{"target below 0.01", DefaultConfig(), map[string]string{AnnotationTarget: "0.001"}, []string{AnnotationTarget, "0.001"}},
		{"target not a number", DefaultConfig(), map[string]string{AnnotationTarget: "ten"}, []string{AnnotationTarget, "ten"}},
		{"utilisation above 100", DefaultConfig(), map[string]string{AnnotationPrefix + "targetUtilizationPercentage": "101"}, []string{"targetUtilizationPercentage", "101"}},
		{"TBC -2", DefaultConfig(), map[string]string{AnnotationTargetBurstCapacity: "-2"}, []string{AnnotationTargetBurstCapacity, "-2"}},
		{"window too short", DefaultConfig(), map[string]string{AnnotationWindow: "5s"}, []string{AnnotationWindow, "5s"}},
		{"window fraction", DefaultConfig(), map[string]string{AnnotationWindow: "6500ms"}, []string{AnnotationWindow, "6500ms"}},
		{"panic window pct", DefaultConfig(), map[string]string{AnnotationPanicWindowPercentage: "0"}, []string{AnnotationPanicWindowPercentage}},
		{"panic threshold 109 (§9.3: validated here)", DefaultConfig(), map[string]string{AnnotationPanicThresholdPct: "109"}, []string{AnnotationPanicThresholdPct, "109"}},
		{"panic threshold 1001", DefaultConfig(), map[string]string{AnnotationPrefix + "panicThresholdPercentage": "1001"}, []string{"panicThresholdPercentage", "1001"}},
		{"min scale negative", DefaultConfig(), map[string]string{AnnotationMinScale: "-1"}, []string{AnnotationMinScale, "-1"}},
		{"max below min", DefaultConfig(), map[string]string{AnnotationMinScale: "3", AnnotationMaxScale: "2"}, []string{AnnotationMaxScale, AnnotationMinScale}},
		{"max 0 with a limit", limit, map[string]string{AnnotationMaxScale: "0"}, []string{AnnotationMaxScale, `"0"`}},
		{"max above the limit", limit, map[string]string{AnnotationMaxScale: "11"}, []string{AnnotationMaxScale, "11"}},
		{"initial 0 not allowed", DefaultConfig(), map[string]string{AnnotationInitialScale: "0"}, []string{AnnotationInitialScale, "0"}},
		{"activation below min", DefaultConfig(), map[string]string{AnnotationMinScale: "3", AnnotationActivationScale: "2"}, []string{AnnotationActivationScale, "min-scale"}},
		{"activation above max", DefaultConfig(), map[string]string{AnnotationMaxScale: "3", AnnotationActivationScale: "4"}, []string{AnnotationActivationScale, "max-scale"}},
		{"activation 1", DefaultConfig(), map[string]string{AnnotationActivationScale: "1"}, []string{AnnotationActivationScale, "at least 2"}},
		{"activation order: min first", DefaultConfig(), map[string]string{AnnotationMinScale: "3", AnnotationActivationScale: "1"}, []string{"min-scale"}},
		{"delay above 1h", DefaultConfig(), map[string]string{AnnotationScaleDownDelay: "61m"}, []string{AnnotationScaleDownDelay, "61m"}},
		{"delay fraction", DefaultConfig(), map[string]string{AnnotationPrefix + "scaleDownDelay": "1.5s"}, []string{"scaleDownDelay", "1.5s"}},
		{"retention negative", DefaultConfig(), map[string]string{AnnotationScaleToZeroPodRetention: "-1s"}, []string{AnnotationScaleToZeroPodRetention}},
		{"algorithm with explicit KPA", DefaultConfig(), map[string]string{AnnotationClass: ClassKPA, AnnotationMetricAggregation: "median"}, []string{AnnotationMetricAggregation, "median"}},
		{"progress deadline", DefaultConfig(), map[string]string{AnnotationProgressDeadline: "soon"}, []string{AnnotationProgressDeadline, "soon"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SpecFromAnnotations(tc.cfg, tc.ann, 0)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSpecLenientCases(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name string
		ann  map[string]string
		want string
	}{
		{"algorithm unvalidated without explicit class", map[string]string{AnnotationMetricAggregation: "median"}, AlgorithmLinear},
		{"custom class outside knative.dev", map[string]string{AnnotationClass: "example.com/mine", AnnotationMetric: "cpu"}, "cpu"},
		{"HPA takes any metric", map[string]string{AnnotationClass: ClassHPA, AnnotationMetric: "memory"}, "memory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := SpecFromAnnotations(cfg, tc.ann, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Algorithm; tc.ann[AnnotationMetric] != "" {
				got = s.Metric
				if got != tc.want {
					t.Errorf("metric = %q, want %q", got, tc.want)
				}
			} else if got != tc.want {
				t.Errorf("algorithm = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := SpecFromAnnotations(cfg, map[string]string{AnnotationInitialScale: "0"},
		0); err == nil {
		t.Error("initial-scale 0 accepted without allow-zero-initial-scale")
	}
	zero := mustConfig(t, map[string]string{"allow-zero-initial-scale": "true"})
	if s, err := SpecFromAnnotations(zero, map[string]string{AnnotationInitialScale: "0"}, 0); err != nil || s.InitialScale != 0 {
		t.Errorf("initial-scale 0 with allow-zero: %v, %v", s.InitialScale, err)
	}
}

func FuzzSpecFromAnnotations(f *testing.F) {
	f.Add("target", "10", "window", "60s", int64(0))
	f.Add("activation-scale", "3", "max-scale", "2", int64(5))
	f.Add("initialScale", "0", "metric", "rps", int64(0))
	f.Add("class", "hpa.autoscaling.knative.dev", "metric-aggregation-algorithm", "x", int64(-1))
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, cc int64) {
		ann := map[string]string{AnnotationPrefix + k1: v1, AnnotationPrefix + k2: v2}
		s, err := SpecFromAnnotations(DefaultConfig(), ann, cc)
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, k1) && !strings.Contains(msg, k2) && !strings.Contains(msg, "containerConcurrency") {
				t.Fatalf("error %q names no key", msg)
			}
			return
		}
		if !(s.TargetValue >= TargetMin) || s.PanicWindow < time.Second || s.StableWindow < WindowMin {
			t.Fatalf("accepted spec out of range: %+v", s)
		}
	})
}

// TestSpecProgressDeadlineFromConfig: config-deployment's progress-deadline (as
// Config.ProgressDeadline) sets the activation timeout; the annotation overrides it,
// and zero keeps Knative's 600 s.
func TestSpecProgressDeadlineFromConfig(t *testing.T) {
	tests := []struct {
		name string
		pd   time.Duration
		ann  map[string]string
		want time.Duration
	}{
		{"default", 0, nil, 630 * time.Second},
		{"from config", 120 * time.Second, nil, 150 * time.Second},
		{"annotation wins", 120 * time.Second, map[string]string{AnnotationProgressDeadline: "20s"}, 50 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ProgressDeadline = tc.pd
			s, err := SpecFromAnnotations(cfg, tc.ann, 0)
			if err != nil {
				t.Fatal(err)
			}
			if s.ActivationTimeout != tc.want {
				t.Errorf("ActivationTimeout = %v, want %v", s.ActivationTimeout, tc.want)
			}
		})
	}
	cfg := DefaultConfig()
	cfg.ProgressDeadline = -time.Second
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "ProgressDeadline") {
		t.Errorf("Validate of a negative ProgressDeadline = %v, want an error naming it", err)
	}
}

// TestSpecHPAClass: the HPA class reads the target as written (80 is 80 %
// of the CPU request, not a concurrency of 80 × 0.7), defaults the metric to
// cpu, and marks an annotated window.
func TestSpecHPAClass(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name       string
		ann        map[string]string
		cc         int64
		metric     string
		target     float64
		windowSet  bool
		stableWant time.Duration
	}{
		{"cpu 80", map[string]string{AnnotationClass: ClassHPA, AnnotationMetric: MetricCPU, AnnotationTarget: "80"}, 10, MetricCPU, 80, false, cfg.StableWindow},
		{"metric defaults to cpu", map[string]string{AnnotationClass: ClassHPA, AnnotationTarget: "50"}, 0, MetricCPU, 50, false, cfg.StableWindow},
		{"memory in Mi", map[string]string{AnnotationClass: ClassHPA, AnnotationMetric: MetricMemory, AnnotationTarget: "256"}, 0, MetricMemory, 256, false, cfg.StableWindow},
		{"no target", map[string]string{AnnotationClass: ClassHPA}, 0, MetricCPU, 0, false, cfg.StableWindow},
		{"window", map[string]string{AnnotationClass: ClassHPA, AnnotationWindow: "20s"}, 0, MetricCPU, 0, true, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := SpecFromAnnotations(cfg, tc.ann, tc.cc)
			if err != nil {
				t.Fatal(err)
			}
			if s.Class != ClassHPA || s.Metric != tc.metric || s.TargetValue != tc.target || s.TotalValue != tc.target ||
				s.WindowSet != tc.windowSet || s.StableWindow != tc.stableWant {
				t.Errorf("got class %s metric %s target %v total %v windowSet %v window %v; want %s %s %v %v %v %v",
					s.Class, s.Metric, s.TargetValue, s.TotalValue, s.WindowSet, s.StableWindow,
					ClassHPA, tc.metric, tc.target, tc.target, tc.windowSet, tc.stableWant)
			}
		})
	}
}
