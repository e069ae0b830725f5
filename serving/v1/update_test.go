package v1_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving"
	servingv1 "github.com/servekit/servekit/serving/v1"
)

func messages(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+": "+servingv1.Message(e))
	}
	return out
}

func helloService(mods ...func(*servingv1.Service)) *servingv1.Service {
	s := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello", Annotations: map[string]string{
		serving.CreatorAnnotation: "alice", serving.UpdaterAnnotation: "alice",
	}}}
	s.Spec.Template.Spec.Containers = []corev1.Container{{Image: "ghcr.io/servekit/hello:v1"}}
	for _, m := range mods {
		m(s)
	}
	s.SetDefaults(servingv1.StockDefaults())
	return s
}

func TestValidateUpdate(t *testing.T) {
	d := servingv1.StockDefaults()
	byo := func(name string) func(*servingv1.Service) {
		return func(s *servingv1.Service) { s.Spec.Template.Name = name }
	}
	image := func(img string) func(*servingv1.Service) {
		return func(s *servingv1.Service) { s.Spec.Template.Spec.Containers[0].Image = img }
	}
	annotate := func(k, v string) func(*servingv1.Service) {
		return func(s *servingv1.Service) { s.Annotations[k] = v }
	}
	tests := []struct {
		name     string
		old, cur *servingv1.Service
		want     []string
	}{
		{"no change", helloService(), helloService(), nil},
		{"spec change with a new BYO name", helloService(byo("hello-v1")), helloService(byo("hello-v2"), image("ghcr.io/servekit/hello:v2")), nil},
		{"spec change keeping the BYO name", helloService(byo("hello-v1")), helloService(byo("hello-v1"), image("ghcr.io/servekit/hello:v2")),
			[]string{"spec.template.metadata.name: Saw the following changes without a name change (-old +new); changed: spec"}},
		{"BYO name unchanged and template unchanged", helloService(byo("hello-v1")), helloService(byo("hello-v1")), nil},
		{"creator changed", helloService(), helloService(annotate(serving.CreatorAnnotation, "mallory")),
			[]string{"metadata.annotations.serving.knative.dev/creator: annotation value is immutable"}},
		{"lastModifier changed without a spec change", helloService(), helloService(annotate(serving.UpdaterAnnotation, "bob")),
			[]string{"metadata.annotations.serving.knative.dev/lastModifier: invalid value: bob"}},
		{"lastModifier changed with a spec change", helloService(), helloService(annotate(serving.UpdaterAnnotation, "bob"), image("ghcr.io/servekit/hello:v2")), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, messages(tc.cur.ValidateUpdate(tc.old, d))); diff != "" {
				t.Errorf("ValidateUpdate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigurationAndRouteUpdate(t *testing.T) {
	d := servingv1.StockDefaults()
	owned := metav1.ObjectMeta{Name: "hello", Annotations: map[string]string{serving.CreatorAnnotation: "alice"},
		Labels:          map[string]string{serving.ServiceLabelKey: "hello"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Service", Name: "hello", APIVersion: "serving.knative.dev/v1"}}}
	cfg := &servingv1.Configuration{ObjectMeta: owned}
	cfg.Spec.Template.Spec.Containers = []corev1.Container{{Image: "ghcr.io/servekit/hello:v1"}}
	cfg.SetDefaults(d)
	cur := cfg.DeepCopy()
	cur.Annotations = map[string]string{serving.CreatorAnnotation: "controller"}
	if errs := cur.ValidateUpdate(cfg, d); len(errs) != 0 {
		t.Errorf("owned Configuration: creator change rejected: %v", messages(errs))
	}
	standalone := cfg.DeepCopy()
	standalone.OwnerReferences = nil
	standalone.Labels = nil
	changed := standalone.DeepCopy()
	changed.Annotations = map[string]string{serving.CreatorAnnotation: "mallory"}
	want := []string{"metadata.annotations.serving.knative.dev/creator: annotation value is immutable"}
	if diff := cmp.Diff(want, messages(changed.ValidateUpdate(standalone, d))); diff != "" {
		t.Errorf("standalone Configuration (-want +got):\n%s", diff)
	}

	rt := &servingv1.Route{ObjectMeta: metav1.ObjectMeta{Name: "hello", Annotations: map[string]string{serving.CreatorAnnotation: "alice"}}}
	rt.Spec.Traffic = []servingv1.TrafficTarget{{ConfigurationName: "hello", Percent: ptr[int64](100)}}
	rt.SetDefaults(d)
	rt2 := rt.DeepCopy()
	rt2.Annotations[serving.CreatorAnnotation] = "mallory"
	if diff := cmp.Diff(want, messages(rt2.ValidateUpdate(rt, d))); diff != "" {
		t.Errorf("Route (-want +got):\n%s", diff)
	}
}

func TestRevisionSpecImmutable(t *testing.T) {
	d := servingv1.StockDefaults()
	old := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001"}}
	old.Spec.Containers = []corev1.Container{{Image: "ghcr.io/servekit/hello:v1"}}
	old.SetDefaults(d)

	relabelled := old.DeepCopy()
	relabelled.Labels = map[string]string{serving.RoutingStateLabelKey: serving.RoutingStateActive}
	if errs := relabelled.ValidateUpdate(old, d); len(errs) != 0 {
		t.Errorf("label change rejected: %v", messages(errs))
	}

	changed := old.DeepCopy()
	changed.Spec.ContainerConcurrency = ptr[int64](5)
	changed.Spec.Containers[0].Image = "ghcr.io/servekit/hello:v2"
	want := []string{"spec: Immutable fields changed (-old +new); changed: pod spec (containers, volumes, ...), changed: containerConcurrency"}
	if diff := cmp.Diff(want, messages(changed.ValidateUpdate(old, d))); diff != "" {
		t.Errorf("ValidateUpdate (-want +got):\n%s", diff)
	}
}

func TestOwnedObjectsAreValid(t *testing.T) {
	d := servingv1.StockDefaults()
	cfg := &servingv1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "hello",
		Labels:          map[string]string{serving.ServiceLabelKey: "hello"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Service", Name: "hello"}}}}
	cfg.Spec.Template.Spec.Containers = []corev1.Container{{Image: "ghcr.io/servekit/hello:v1"}}
	cfg.SetDefaults(d)
	if errs := cfg.Validate(d); len(errs) != 0 {
		t.Errorf("Configuration: %v", messages(errs))
	}
	rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001",
		Labels:          map[string]string{serving.ConfigurationLabelKey: "hello"},
		Annotations:     map[string]string{autoscaler.AnnotationTarget: "10"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Configuration", Name: "hello"}}}}
	rev.Spec = *cfg.Spec.Template.Spec.DeepCopy()
	if errs := rev.Validate(d); len(errs) != 0 {
		t.Errorf("Revision: %v", messages(errs))
	}
}

func TestKnativeString(t *testing.T) {
	rt := &servingv1.Route{ObjectMeta: metav1.ObjectMeta{Name: "hello"}}
	rt.Spec.Traffic = []servingv1.TrafficTarget{{Percent: ptr[int64](50)}}
	rt.SetDefaults(servingv1.StockDefaults())
	got := servingv1.KnativeString(rt.Validate(servingv1.StockDefaults()))
	want := "Traffic targets sum to 50, want 100: spec.traffic\n" +
		"expected exactly one, got neither: spec.traffic[0].configurationName, spec.traffic[0].revisionName"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KnativeString (-want +got):\n%s", diff)
	}
}

func TestValidateUpdateDispatch(t *testing.T) {
	d := servingv1.StockDefaults()
	old := helloService()
	cur := helloService(func(s *servingv1.Service) { s.Annotations[serving.CreatorAnnotation] = "mallory" })
	want := []string{"metadata.annotations.serving.knative.dev/creator: annotation value is immutable"}
	if diff := cmp.Diff(want, messages(servingv1.ValidateUpdate(old, cur, d))); diff != "" {
		t.Errorf("ValidateUpdate (-want +got):\n%s", diff)
	}
	rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001"}}
	want = []string{"kind: cannot update a *v1.Service with a *v1.Revision"}
	if diff := cmp.Diff(want, messages(servingv1.ValidateUpdate(old, rev, d))); diff != "" {
		t.Errorf("ValidateUpdate across kinds (-want +got):\n%s", diff)
	}
}
