package controller_test

import (
	"testing"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
)

// TestInitialScaleZeroAllowedByConfig: a Service annotated initial-scale "0"
// is applied when the controller's config-autoscaler sets
// allow-zero-initial-scale, and refused with the default config (issue 17
// case 10). Validation used Knative's default config whatever the platform's.
func TestInitialScaleZeroAllowedByConfig(t *testing.T) {
	allow, err := autoscaler.ConfigFromMap(map[string]string{autoscaler.KeyAllowZeroInitialScale: "true"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cfg   *autoscaler.Config
		valid bool
	}{
		{"allowed", &allow, true},
		{"default config", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := controller.New(controller.Options{Backend: newFakeBackend(), Autoscaler: tc.cfg})
			if err != nil {
				t.Fatal(err)
			}
			svc := testService("zero", "example.com/hello")
			svc.Spec.Template.Annotations = map[string]string{autoscaler.AnnotationInitialScale: "0"}
			err = c.Apply("zero.yaml", []v1.Object{svc})
			if tc.valid && err != nil {
				t.Errorf("Apply(initial-scale 0) = %v, want accepted", err)
			}
			if !tc.valid && err == nil {
				t.Error("Apply(initial-scale 0) accepted, want refused")
			}
		})
	}
}
