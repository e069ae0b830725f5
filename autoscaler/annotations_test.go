package autoscaler

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// knativeAnnotationKeys is Knative's full list of autoscaling annotation
// keys and legacy aliases (knative.dev/serving/pkg/apis/autoscaling/register.go).
var knativeAnnotationKeys = []string{
	"class", "metric", "target",
	"target-utilization-percentage", "targetUtilizationPercentage",
	"target-burst-capacity", "targetBurstCapacity",
	"window",
	"panic-window-percentage", "panicWindowPercentage",
	"panic-threshold-percentage", "panicThresholdPercentage",
	"min-scale", "minScale",
	"max-scale", "maxScale",
	"initial-scale", "initialScale",
	"activation-scale",
	"scale-down-delay", "scaleDownDelay",
	"scale-to-zero-pod-retention-period", "scaleToZeroPodRetentionPeriod",
	"metric-aggregation-algorithm", "metricAggregationAlgorithm",
}

// TestAnnotationKeysAreKnatives checks the table against Knative's list,
// both ways: every key Knative defines is read, and no other.
func TestAnnotationKeysAreKnatives(t *testing.T) {
	var want []string
	for _, k := range knativeAnnotationKeys {
		want = append(want, AnnotationPrefix+k)
	}
	got := AnnotationKeys()
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AnnotationKeys() (-want +got):\n%s", diff)
	}
}

// TestValidateAgreesWithSpec checks that every key ValidateAnnotations
// rejects is one SpecFromAnnotations rejects, and the other way round, for
// one bad value per key (aliases included).
func TestValidateAgreesWithSpec(t *testing.T) {
	bad := map[string]string{
		"class": "foo.knative.dev", "metric": "cpu", "target": "0",
		"target-utilization-percentage": "0", "target-burst-capacity": "-2",
		"window": "1s", "panic-window-percentage": "101", "panic-threshold-percentage": "100",
		"min-scale": "-1", "max-scale": "x", "initial-scale": "0", "activation-scale": "1",
		"scale-down-delay": "2h", "scale-to-zero-pod-retention-period": "-1s",
	}
	for _, key := range AnnotationKeys() {
		name := strings.TrimPrefix(key, AnnotationPrefix)
		v, ok := bad[name]
		if !ok {
			for _, r := range annotationTable {
				if r.alias == name {
					v, ok = bad[strings.TrimPrefix(r.key, AnnotationPrefix)]
				}
			}
		}
		if !ok {
			continue // metric-aggregation-algorithm: only with an explicit class
		}
		ann := map[string]string{key: v}
		errs := ValidateAnnotations(DefaultConfig(), ann)
		_, err := SpecFromAnnotations(DefaultConfig(), ann, 0)
		if len(errs) != 1 || err == nil || errs[0].Error() != err.Error() || errs[0].Key != key {
			t.Errorf("%s=%q: ValidateAnnotations = %v, SpecFromAnnotations error = %v", key, v, errs, err)
		}
	}
}

func TestValidateAnnotations(t *testing.T) {
	type got struct {
		Key     string
		Kind    AnnotationErrorKind
		Bad     string
		Message string
		Others  []string
	}
	tests := []struct {
		name string
		ann  map[string]string
		want []got
	}{
		{"none", map[string]string{AnnotationPrefix + "unknown": "x"}, nil},
		{"every problem, in table order", map[string]string{
			AnnotationClass:               ClassKPA,
			AnnotationTarget:              "0.001",
			AnnotationTargetUtilization:   "150",
			AnnotationWindow:              "6500ms",
			AnnotationPrefix + "minScale": "5",
			AnnotationMaxScale:            "2",
			AnnotationInitialScale:        "0",
			AnnotationMetricAggregation:   "median",
			AnnotationProgressDeadline:    "soon", // not an autoscaling annotation
		}, []got{
			{AnnotationTarget, KindGeneric, "<nil>", "target 0.001 should be at least 0.01", nil},
			{AnnotationTargetUtilization, KindOutOfBounds, "expected 1 <= 150 <= 100", "", nil},
			{AnnotationWindow, KindGeneric, "<nil>", "must be specified with at most second precision", nil},
			{AnnotationMaxScale, KindGeneric, "<nil>", "max-scale=2 is less than min-scale=5", []string{AnnotationPrefix + "minScale"}},
			{AnnotationInitialScale, KindInvalidValue, "<nil>", "initial-scale=0 not allowed by cluster", nil},
			{AnnotationMetricAggregation, KindInvalidValue, "<nil>", "", nil},
		}},
		{"scales out of bounds", map[string]string{AnnotationMinScale: "-1", AnnotationActivationScale: "1"}, []got{
			{AnnotationMinScale, KindOutOfBounds, "expected 0 <= -1 <= 2147483647", "", nil},
			{AnnotationActivationScale, KindOutOfBounds, "expected 2 <= 1 <= 2147483647", "", nil},
		}},
		{"window bounds are durations", map[string]string{AnnotationWindow: "1s"}, []got{
			{AnnotationWindow, KindOutOfBounds, "expected 6s <= 1s <= 1h0m0s", "", nil},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gots []got
			for _, e := range ValidateAnnotations(DefaultConfig(), tc.ann) {
				b := "<nil>"
				if e.Kind == KindOutOfBounds {
					b = fmt.Sprintf("expected %v <= %v <= %v", e.Min, e.Bad, e.Max)
				}
				gots = append(gots, got{e.Key, e.Kind, b, e.Message, e.Others})
			}
			if diff := cmp.Diff(tc.want, gots); diff != "" {
				t.Errorf("ValidateAnnotations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAnnotationErrorShortensValue keeps a 2 MB value out of the message.
func TestAnnotationErrorShortensValue(t *testing.T) {
	v := strings.Repeat("9", 2<<20) + "x"
	_, err := SpecFromAnnotations(DefaultConfig(), map[string]string{AnnotationTarget: v}, 0)
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "(2097153 bytes)") {
		t.Errorf("error = %.300v", err)
	}
}

// TestAnnotationTableBounds checks that errors carry the table's bounds
// (Knative's constants) for an API layer to print.
func TestAnnotationTableBounds(t *testing.T) {
	for _, tc := range []struct {
		key, v string
		want   any
	}{
		{AnnotationPanicWindowPercentage, "0.5", PanicWindowPercentageMin},
		{AnnotationPanicThresholdPct, "1001", PanicThresholdPercentageMax},
		{AnnotationScaleDownDelay, "61m", time.Hour},
		{AnnotationMinScale, "-3", math.MaxInt32},
	} {
		errs := ValidateAnnotations(DefaultConfig(), map[string]string{tc.key: tc.v})
		if len(errs) != 1 || errs[0].Kind != KindOutOfBounds || (errs[0].Min != tc.want && errs[0].Max != tc.want) {
			t.Errorf("%s=%s: %+v, want bound %v", tc.key, tc.v, errs, tc.want)
		}
	}
}
