package autoscaler

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigFromMapDefaults(t *testing.T) {
	got, err := ConfigFromMap(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		PodAutoscalerClass: "kpa.autoscaling.knative.dev", EnableScaleToZero: true,
		ContainerConcurrencyTargetFraction: 0.7, ContainerConcurrencyTargetDefault: 100,
		RPSTargetDefault: 200, TargetUtilization: 0.7, TargetBurstCapacity: 211,
		StableWindow: time.Minute, PanicWindowPercentage: 10, PanicThresholdPercentage: 200,
		MaxScaleUpRate: 1000, MaxScaleDownRate: 2, ActivatorCapacity: 100,
		ScaleToZeroGracePeriod: 30 * time.Second, InitialScale: 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestConfigMapRoundTrip(t *testing.T) {
	c := mustConfig(t, map[string]string{"container-concurrency-target-percentage": "55", "stable-window": "90s",
		"scale-down-delay": "10s", "max-scale": "5", "min-scale": "1", "target-burst-capacity": "-1"})
	got, err := ConfigFromMap(c.Map())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestConfigFromMapParsing(t *testing.T) {
	tests := []struct {
		name  string
		data  map[string]string
		check func(Config) any
		want  any
	}{
		{"percentage above 1 is divided by 100", map[string]string{"container-concurrency-target-percentage": "55"},
			func(c Config) any { return c.ContainerConcurrencyTargetFraction }, 0.55},
		{"1 means 100 % (§9.2)", map[string]string{"container-concurrency-target-percentage": "1"},
			func(c Config) any { return c.ContainerConcurrencyTargetFraction }, 1.0},
		{"0.5 is a fraction", map[string]string{"container-concurrency-target-percentage": "0.5"},
			func(c Config) any { return c.ContainerConcurrencyTargetFraction }, 0.5},
		{"1.5 is 1.5 %", map[string]string{"container-concurrency-target-percentage": "1.5"},
			func(c Config) any { return c.ContainerConcurrencyTargetFraction }, 0.015},
		{"bools via ParseBool: TRUE", map[string]string{"enable-scale-to-zero": "FALSE", "allow-zero-initial-scale": "t", "initial-scale": "0"},
			func(c Config) any { return [2]bool{c.EnableScaleToZero, c.AllowZeroInitialScale} }, [2]bool{false, true}},
		{"duration literal 0 needs no unit", map[string]string{"scale-down-delay": "0"},
			func(c Config) any { return c.ScaleDownDelay }, time.Duration(0)},
		{"unknown keys ignored, tick-interval has no effect (§9.5)", map[string]string{"tick-interval": "junk", "panic-window": "junk"},
			func(c Config) any { return c.StableWindow }, time.Minute},
		{"panic threshold at the bounds", map[string]string{"panic-threshold-percentage": "110"},
			func(c Config) any { return c.PanicThresholdPercentage }, 110.0},
		{"panic threshold at the upper bound", map[string]string{"panic-threshold-percentage": "1000"},
			func(c Config) any { return c.PanicThresholdPercentage }, 1000.0},
		{"rps target only needs ≥ 0.01 (§9.4)", map[string]string{"requests-per-second-target-default": "0.5"},
			func(c Config) any { return c.RPSTargetDefault }, 0.5},
		{"no ConfigMap key sets rps utilisation (§9.1)", map[string]string{"target-utilization-percentage": "50"},
			func(c Config) any { return c.TargetUtilization }, 0.7},
		{"TBC -1 allowed", map[string]string{"target-burst-capacity": "-1"},
			func(c Config) any { return c.TargetBurstCapacity }, -1.0},
		{"max-scale within limit", map[string]string{"max-scale": "10", "max-scale-limit": "20"},
			func(c Config) any { return [2]int32{c.MaxScale, c.MaxScaleLimit} }, [2]int32{10, 20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ConfigFromMap(tc.data)
			if err != nil {
				t.Fatalf("ConfigFromMap: %v", err)
			}
			if diff := cmp.Diff(tc.want, tc.check(c)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigFromMapErrors(t *testing.T) {
	tests := []struct {
		name string
		data map[string]string
		want []string // substrings of the error: key and value
	}{
		{"unparsable float", map[string]string{"max-scale-up-rate": "fast"}, []string{"max-scale-up-rate", `"fast"`}},
		{"NaN rejected", map[string]string{"target-burst-capacity": "NaN"}, []string{"target-burst-capacity", "NaN"}},
		{"unparsable bool", map[string]string{"enable-scale-to-zero": "yes"}, []string{"enable-scale-to-zero", `"yes"`}},
		{"int32 overflow", map[string]string{"min-scale": "3000000000"}, []string{"min-scale", "3000000000"}},
		{"duration needs a unit", map[string]string{"stable-window": "60"}, []string{"stable-window", `"60"`}},
		{"grace must be positive", map[string]string{"scale-to-zero-grace-period": "0s"}, []string{"scale-to-zero-grace-period", "0s"}},
		{"negative delay", map[string]string{"scale-down-delay": "-1s"}, []string{"scale-down-delay", "-1s"}},
		{"delay whole seconds", map[string]string{"scale-down-delay": "1500ms"}, []string{"scale-down-delay", "1.5s"}},
		{"negative retention", map[string]string{"scale-to-zero-pod-retention-period": "-1s"}, []string{"scale-to-zero-pod-retention-period"}},
		{"TBC -2", map[string]string{"target-burst-capacity": "-2"}, []string{"target-burst-capacity", "-2"}},
		{"target 0", map[string]string{"container-concurrency-target-percentage": "0"}, []string{"container-concurrency-target-percentage", "0"}},
		{"target 150 %", map[string]string{"container-concurrency-target-percentage": "150"}, []string{"container-concurrency-target-percentage", "1.5"}},
		{"target product", map[string]string{"container-concurrency-target-default": "0.01"}, []string{"container-concurrency-target-default", "0.007"}},
		{"rps target", map[string]string{"requests-per-second-target-default": "0.001"}, []string{"requests-per-second-target-default", "0.001"}},
		{"activator capacity", map[string]string{"activator-capacity": "0.5"}, []string{"activator-capacity", "0.5"}},
		{"up rate", map[string]string{"max-scale-up-rate": "1"}, []string{"max-scale-up-rate", "1"}},
		{"down rate", map[string]string{"max-scale-down-rate": "1"}, []string{"max-scale-down-rate", "1"}},
		{"stable window short", map[string]string{"stable-window": "5s"}, []string{"stable-window", "5s"}},
		{"stable window long", map[string]string{"stable-window": "2h"}, []string{"stable-window", "2h"}},
		{"stable window fraction", map[string]string{"stable-window": "6500ms"}, []string{"stable-window", "6.5s"}},
		{"panic window pct", map[string]string{"panic-window-percentage": "0.5"}, []string{"panic-window-percentage", "0.5"}},
		// Knative leaves the key unchecked (only the annotation is); -5 put every
		// tick in panic (issue 17 case 10).
		{"panic threshold negative", map[string]string{"panic-threshold-percentage": "-5"}, []string{"panic-threshold-percentage", "-5", "[110, 1000]"}},
		{"panic threshold below 110", map[string]string{"panic-threshold-percentage": "109.9"}, []string{"panic-threshold-percentage", "109.9"}},
		{"panic threshold above 1000", map[string]string{"panic-threshold-percentage": "1001"}, []string{"panic-threshold-percentage", "1001"}},
		{"initial scale 0 not allowed", map[string]string{"initial-scale": "0"}, []string{"initial-scale", "0"}},
		{"min scale negative", map[string]string{"min-scale": "-1"}, []string{"min-scale", "-1"}},
		{"max scale above limit", map[string]string{"max-scale": "30", "max-scale-limit": "20"}, []string{"max-scale", "30"}},
		{"max scale 0 with limit", map[string]string{"max-scale-limit": "20"}, []string{"max-scale", "0"}},
		{"limit negative", map[string]string{"max-scale-limit": "-1"}, []string{"max-scale-limit", "-1"}},
		{"min above max", map[string]string{"min-scale": "5", "max-scale": "3"}, []string{"min-scale = 5", "max-scale = 3"}},
		{"validation order: grace before TBC", map[string]string{"scale-to-zero-grace-period": "0s", "target-burst-capacity": "-5"}, []string{"scale-to-zero-grace-period"}},
		{"validation order: rates before window", map[string]string{"max-scale-down-rate": "1", "stable-window": "1s"}, []string{"max-scale-down-rate"}},
		{"validation order: initial before min", map[string]string{"initial-scale": "-1", "min-scale": "-1"}, []string{"initial-scale"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigFromMap(tc.data)
			if err == nil {
				t.Fatal("ConfigFromMap succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func FuzzConfigFromMap(f *testing.F) {
	f.Add("stable-window", "60s", "container-concurrency-target-percentage", "70")
	f.Add("max-scale", "3", "max-scale-limit", "2")
	f.Add("target-burst-capacity", "-1", "scale-down-delay", "1.5s")
	f.Add("initial-scale", "0", "allow-zero-initial-scale", "true")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		c, err := ConfigFromMap(map[string]string{k1: v1, k2: v2})
		if err != nil {
			// The error names a key.
			msg := err.Error()
			if !strings.Contains(msg, k1) && !strings.Contains(msg, k2) {
				t.Fatalf("error %q names no key", msg)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
		// Round trip through Map.
		back, err := ConfigFromMap(c.Map())
		if err != nil {
			t.Fatalf("ConfigFromMap(Map()) of %+v: %v", c, err)
		}
		if diff := cmp.Diff(c, back); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
		if _, err := SpecFromAnnotations(c, nil, 0); err != nil {
			t.Fatalf("valid config yields no spec: %v", err)
		}
	})
}
