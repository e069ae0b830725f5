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

// TestInitialScaleZeroFollowsAutoscalerConfig: initial-scale "0" is valid
// exactly when the config-autoscaler the platform runs with sets
// allow-zero-initial-scale (issue 17 case 10), as Knative's webhook checks it
// against the cluster's config; without Defaults.Autoscaler, Knative's
// default config refuses it.
func TestInitialScaleZeroFollowsAutoscalerConfig(t *testing.T) {
	allow, err := autoscaler.ConfigFromMap(map[string]string{autoscaler.KeyAllowZeroInitialScale: "true"})
	if err != nil {
		t.Fatal(err)
	}
	deny := autoscaler.DefaultConfig()
	for _, tc := range []struct {
		name  string
		cfg   *autoscaler.Config
		valid bool
	}{
		{"allow-zero-initial-scale true", &allow, true},
		{"allow-zero-initial-scale false", &deny, false},
		{"no config: Knative's default", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := servingv1.StockDefaults()
			d.Autoscaler = tc.cfg
			for _, key := range []string{autoscaler.AnnotationInitialScale, autoscaler.AnnotationPrefix + "initialScale"} {
				svc := helloService(func(s *servingv1.Service) {
					s.Spec.Template.Annotations = map[string]string{key: "0"}
				})
				svc.SetDefaults(d)
				errs := svc.Validate(d)
				if tc.valid && len(errs) != 0 {
					t.Errorf("%s: 0 rejected: %v", key, messages(errs))
				}
				want := "spec.template.metadata.annotations." + key
				if !tc.valid && (len(errs) != 1 || errs[0].Field != want ||
					!strings.Contains(servingv1.Message(errs[0]), "initial-scale=0 not allowed by cluster")) {
					t.Errorf("%s: got %v, want one error at %s", key, messages(errs), want)
				}
			}
		})
	}
}
