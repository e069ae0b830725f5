package v1_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/autoscaler"
	servingv1 "github.com/servekit/servekit/serving/v1"
)

// badAnnotationValue is a value the autoscaler rejects, per key (legacy
// aliases share their key's value); metric-aggregation-algorithm is only
// validated with an explicit KPA class.
var badAnnotationValue = map[string]string{
	"class": "foo.knative.dev", "metric": "cpu", "target": "0",
	"target-utilization-percentage": "0", "targetUtilizationPercentage": "0",
	"target-burst-capacity": "-2", "targetBurstCapacity": "-2",
	"window":                  "1s",
	"panic-window-percentage": "101", "panicWindowPercentage": "101",
	"panic-threshold-percentage": "100", "panicThresholdPercentage": "100",
	"min-scale": "-1", "minScale": "-1",
	"max-scale": "x", "maxScale": "x",
	"initial-scale": "0", "initialScale": "0",
	"activation-scale": "1",
	"scale-down-delay": "2h", "scaleDownDelay": "2h",
	"scale-to-zero-pod-retention-period": "-1s", "scaleToZeroPodRetentionPeriod": "-1s",
	"metric-aggregation-algorithm": "median", "metricAggregationAlgorithm": "median",
}

// TestAutoscalingKeysAgree checks that serving/v1 validation and the
// autoscaler know the same keys: every key of autoscaler.AnnotationKeys
// (which autoscaler tests against Knative's full list) is rejected by
// Revision validation with a bad value, at the key's own path, and a key
// outside that list is not.
func TestAutoscalingKeysAgree(t *testing.T) {
	d := servingv1.StockDefaults()
	var keys []string
	for _, key := range autoscaler.AnnotationKeys() {
		name := strings.TrimPrefix(key, autoscaler.AnnotationPrefix)
		keys = append(keys, name)
		ann := map[string]string{key: badAnnotationValue[name]}
		if badAnnotationValue[name] == "median" {
			ann[autoscaler.AnnotationClass] = autoscaler.ClassKPA
		}
		rev := helloRevision()
		rev.Annotations = ann
		errs := rev.Validate(d)
		if len(errs) == 0 {
			t.Errorf("%s=%q: Revision validation accepted it", key, ann[key])
			continue
		}
		if want := "metadata.annotations." + key; errs[0].Field != want {
			t.Errorf("%s=%q: first error at %s, want %s (%v)", key, ann[key], errs[0].Field, want, messages(errs))
		}
	}
	var want []string
	for k := range badAnnotationValue {
		want = append(want, k)
	}
	if diff := cmp.Diff(want, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("autoscaler.AnnotationKeys() against this test's keys (-want +got):\n%s", diff)
	}
	rev := helloRevision()
	rev.Annotations = map[string]string{autoscaler.AnnotationPrefix + "not-a-key": "x"}
	if errs := rev.Validate(d); len(errs) != 0 {
		t.Errorf("an unknown autoscaling key: %v", messages(errs))
	}
}

func helloRevision() *servingv1.Revision {
	rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001"}}
	rev.Spec.Containers = []corev1.Container{{Image: "ghcr.io/servekit/hello:v1"}}
	rev.SetDefaults(servingv1.StockDefaults())
	return rev
}
