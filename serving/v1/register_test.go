package v1_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

func TestAddToScheme(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := servingv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"Service", "ServiceList", "Configuration", "ConfigurationList", "Revision", "RevisionList", "Route", "RouteList"} {
		gvk := schema.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: kind}
		obj, err := scheme.New(gvk)
		if err != nil {
			t.Errorf("scheme.New(%v): %v", gvk, err)
			continue
		}
		if got, _, err := scheme.ObjectKinds(obj); err != nil || got[0] != gvk {
			t.Errorf("ObjectKinds(%T) = %v, %v; want %v", obj, got, err, gvk)
		}
	}
	if got := servingv1.Kind("Route"); got != (schema.GroupKind{Group: "serving.knative.dev", Kind: "Route"}) {
		t.Errorf("Kind(Route) = %v", got)
	}
	if got := servingv1.Resource("routes"); got != (schema.GroupResource{Group: "serving.knative.dev", Resource: "routes"}) {
		t.Errorf("Resource(routes) = %v", got)
	}
}

func TestDeepCopyDoesNotShare(t *testing.T) {
	svc := helloService(func(s *servingv1.Service) {
		s.Spec.Template.Annotations = map[string]string{"autoscaling.knative.dev/target": "10"}
	})
	cp := svc.DeepCopy()
	cp.Spec.Template.Annotations["autoscaling.knative.dev/target"] = "20"
	*cp.Spec.Traffic[0].Percent = 50
	cp.Spec.Template.Spec.Containers[0].Name = "other"
	if svc.Spec.Template.Annotations["autoscaling.knative.dev/target"] != "10" ||
		*svc.Spec.Traffic[0].Percent != 100 || svc.Spec.Template.Spec.Containers[0].Name != "user-container" {
		t.Errorf("DeepCopy shares memory with the original: %+v", svc.Spec)
	}
}
