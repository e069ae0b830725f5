package service

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/revision"
	v1 "github.com/servekit/servekit/serving/v1"
)

// TestSeed checks the Configuration, Route and first Revision made from
// the seed Service against what Knative makes (seed-example.md §3).
func TestSeed(t *testing.T) {
	svc := seedService(t)

	wantCfg := &v1.Configuration{
		TypeMeta: metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Configuration"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            "helloworld-go",
			Namespace:       "default",
			OwnerReferences: serviceOwnerRef(),
			Labels: map[string]string{
				"serving.knative.dev/service":    "helloworld-go",
				"serving.knative.dev/serviceUID": "svc-uid",
			},
			Annotations: map[string]string{
				"serving.knative.dev/creator":      "alice",
				"serving.knative.dev/lastModifier": "alice",
				"serving.knative.dev/routes":       "helloworld-go",
			},
		},
		Spec: v1.ConfigurationSpec{Template: seedTemplate()},
	}
	cfg := MakeConfiguration(svc)
	if diff := cmp.Diff(wantCfg, cfg); diff != "" {
		t.Errorf("MakeConfiguration (-want +got):\n%s", diff)
	}

	wantRoute := &v1.Route{
		TypeMeta: metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Route"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            "helloworld-go",
			Namespace:       "default",
			OwnerReferences: serviceOwnerRef(),
			Labels:          map[string]string{"serving.knative.dev/service": "helloworld-go"},
			Annotations: map[string]string{
				"serving.knative.dev/creator":      "alice",
				"serving.knative.dev/lastModifier": "alice",
			},
		},
		Spec: v1.RouteSpec{Traffic: []v1.TrafficTarget{{
			ConfigurationName: "helloworld-go",
			LatestRevision:    ptr(true),
			Percent:           ptr[int64](100),
		}}},
	}
	if diff := cmp.Diff(wantRoute, MakeRoute(svc)); diff != "" {
		t.Errorf("MakeRoute (-want +got):\n%s", diff)
	}

	// The API server gives the Configuration a UID and generation 1; the
	// Configuration reconciler then stamps helloworld-go-00001.
	cfg.UID = "cfg-uid"
	cfg.Generation = 1
	rev, err := revision.Snapshot(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{
		"app":                               "helloworld-go",
		"serving.knative.dev/configuration": "helloworld-go",
		"serving.knative.dev/configurationGeneration": "1",
		"serving.knative.dev/configurationUID":        "cfg-uid",
		"serving.knative.dev/service":                 "helloworld-go",
		"serving.knative.dev/serviceUID":              "svc-uid",
		"serving.knative.dev/routingState":            "active",
	}
	wantAnnotations := map[string]string{
		"autoscaling.knative.dev/target":           "10",
		"serving.knative.dev/creator":              "alice",
		"serving.knative.dev/routes":               "helloworld-go",
		"serving.knative.dev/routingStateModified": "2026-11-27T12:00:00Z",
	}
	if rev.Name != "helloworld-go-00001" {
		t.Errorf("revision name = %q, want helloworld-go-00001", rev.Name)
	}
	if diff := cmp.Diff(wantLabels, rev.Labels); diff != "" {
		t.Errorf("revision labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAnnotations, rev.Annotations); diff != "" {
		t.Errorf("revision annotations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(seedTemplate().Spec, rev.Spec); diff != "" {
		t.Errorf("revision spec (-want +got):\n%s", diff)
	}
}

func TestMakeConfiguration(t *testing.T) {
	tests := []struct {
		name     string
		svc      func(*v1.Service)
		existing *v1.Configuration
		want     func(*v1.Configuration)
	}{{
		name: "service labels are copied, Knative's win",
		svc: func(s *v1.Service) {
			s.Labels = map[string]string{"team": "a", serving.ServiceLabelKey: "spoofed", serving.VisibilityLabelKey: serving.VisibilityClusterLocal}
		},
		want: func(c *v1.Configuration) {
			c.Labels["team"] = "a"
			c.Labels[serving.VisibilityLabelKey] = serving.VisibilityClusterLocal
		},
	}, {
		name: "last-applied and rollout durations are not copied",
		svc: func(s *v1.Service) {
			s.Annotations[serving.LastAppliedConfigAnnotation] = "{}"
			s.Annotations[serving.RolloutDurationKey] = "120s"
			s.Annotations[serving.RolloutDurationKeyLegacy] = "60s"
			s.Annotations["example.com/note"] = "kept"
		},
		want: func(c *v1.Configuration) { c.Annotations["example.com/note"] = "kept" },
	}, {
		name: "a routes annotation on the service is replaced",
		svc:  func(s *v1.Service) { s.Annotations[serving.RoutesAnnotationKey] = "spoofed" },
	}, {
		name:     "routes already on the existing configuration are kept, sorted",
		existing: &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{serving.RoutesAnnotationKey: "zeta,alpha,helloworld-go,,alpha"}}},
		want:     func(c *v1.Configuration) { c.Annotations[serving.RoutesAnnotationKey] = "alpha,helloworld-go,zeta" },
	}, {
		name:     "existing without annotations",
		existing: &v1.Configuration{},
	}, {
		name: "no annotations on the service",
		svc:  func(s *v1.Service) { s.Annotations = nil },
		want: func(c *v1.Configuration) {
			c.Annotations = map[string]string{serving.RoutesAnnotationKey: "helloworld-go"}
		},
	}, {
		name: "bring-your-own revision name is part of the template",
		svc:  func(s *v1.Service) { s.Spec.Template.Name = "helloworld-go-v2" },
		want: func(c *v1.Configuration) { c.Spec.Template.Name = "helloworld-go-v2" },
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := seedService(t)
			if tc.svc != nil {
				tc.svc(svc)
			}
			want := MakeConfiguration(seedService(t))
			if tc.want != nil {
				tc.want(want)
			}
			got := MakeConfigurationFromExisting(svc, tc.existing)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("MakeConfigurationFromExisting (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMakeRoute(t *testing.T) {
	tests := []struct {
		name    string
		svc     func(*v1.Service)
		traffic []v1.TrafficTarget
		want    func(*v1.Route)
	}{{
		name: "labels are copied (visibility, domain selectors)",
		svc: func(s *v1.Service) {
			s.Labels = map[string]string{serving.VisibilityLabelKey: serving.VisibilityClusterLocal, serving.ServiceLabelKey: "spoofed"}
		},
		want: func(r *v1.Route) { r.Labels[serving.VisibilityLabelKey] = serving.VisibilityClusterLocal },
	}, {
		name: "the rollout duration is kept, last-applied is not",
		svc: func(s *v1.Service) {
			s.Annotations[serving.RolloutDurationKey] = "120s"
			s.Annotations[serving.LastAppliedConfigAnnotation] = "{}"
		},
		want: func(r *v1.Route) { r.Annotations[serving.RolloutDurationKey] = "120s" },
	}, {
		name: "pinned revisions stay pinned, the rest follow the configuration",
		svc: func(s *v1.Service) {
			s.Spec.Traffic = []v1.TrafficTarget{
				{Tag: "old", RevisionName: "helloworld-go-00001", LatestRevision: ptr(false), Percent: ptr[int64](50)},
				{Tag: "latest", LatestRevision: ptr(true), Percent: ptr[int64](50)},
				{Tag: "candidate", LatestRevision: ptr(true), Percent: ptr[int64](0)},
			}
		},
		want: func(r *v1.Route) {
			r.Spec.Traffic = []v1.TrafficTarget{
				{Tag: "old", RevisionName: "helloworld-go-00001", LatestRevision: ptr(false), Percent: ptr[int64](50)},
				{Tag: "latest", ConfigurationName: "helloworld-go", LatestRevision: ptr(true), Percent: ptr[int64](50)},
				{Tag: "candidate", ConfigurationName: "helloworld-go", LatestRevision: ptr(true), Percent: ptr[int64](0)},
			}
		},
	}, {
		name: "no annotations on the service",
		svc:  func(s *v1.Service) { s.Annotations = nil },
		want: func(r *v1.Route) { r.Annotations = map[string]string{} },
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := seedService(t)
			if tc.svc != nil {
				tc.svc(svc)
			}
			want := MakeRoute(seedService(t))
			if tc.want != nil {
				tc.want(want)
			}
			if diff := cmp.Diff(want, MakeRoute(svc)); diff != "" {
				t.Errorf("MakeRoute (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMakeIsADeepCopy changes the Service after making its children and
// checks that they do not change, and the other way round.
func TestMakeIsADeepCopy(t *testing.T) {
	svc := seedService(t)
	svc.Labels = map[string]string{"team": "a"}
	svc.Spec.Traffic = append(svc.Spec.Traffic, v1.TrafficTarget{Tag: "t", RevisionName: "x", Percent: ptr[int64](0)})
	cfg, route := MakeConfiguration(svc), MakeRoute(svc)
	wantCfg, wantRoute, wantSvc := cfg.DeepCopy(), route.DeepCopy(), svc.DeepCopy()

	svc.Labels["team"] = "b"
	svc.Annotations[serving.UpdaterAnnotation] = "mallory"
	svc.Spec.Template.Labels["app"] = "changed"
	svc.Spec.Template.Annotations["autoscaling.knative.dev/target"] = "1"
	c := &svc.Spec.Template.Spec.Containers[0]
	c.Env[0].Value = "Mars"
	c.Resources.Limits[corev1.ResourceCPU] = resource.MustParse("1")
	c.ReadinessProbe.SuccessThreshold = 9
	*svc.Spec.Template.Spec.TimeoutSeconds = 1
	*svc.Spec.Traffic[0].Percent = 1
	*svc.Spec.Traffic[0].LatestRevision = false
	svc.Spec.Traffic[1].Tag = "changed"
	if diff := cmp.Diff(wantCfg, cfg); diff != "" {
		t.Errorf("changing the Service changed its Configuration (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRoute, route); diff != "" {
		t.Errorf("changing the Service changed its Route (-want +got):\n%s", diff)
	}

	svc = wantSvc.DeepCopy()
	cfg, route = MakeConfiguration(svc), MakeRoute(svc)
	cfg.Labels["team"] = "c"
	cfg.Annotations[serving.CreatorAnnotation] = "x"
	cfg.Spec.Template.Spec.Containers[0].Env[0].Value = "Venus"
	route.Labels["team"] = "d"
	route.Annotations[serving.CreatorAnnotation] = "y"
	*route.Spec.Traffic[0].Percent = 3
	if diff := cmp.Diff(wantSvc, svc); diff != "" {
		t.Errorf("changing the children changed the Service (-want +got):\n%s", diff)
	}
}

func TestApplyConfiguration(t *testing.T) {
	svc := seedService(t)
	existing := MakeConfiguration(svc)
	existing.ResourceVersion = "42"
	existing.Generation = 3
	existing.Status.LatestReadyRevisionName = "helloworld-go-00003"
	// The same quantity, spelled differently, is no change.
	existing.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("1000m")
	svc.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("1")
	before := existing.DeepCopy()

	got, changed := ApplyConfiguration(existing, MakeConfigurationFromExisting(svc, existing))
	if changed || got != existing {
		t.Errorf("ApplyConfiguration of an equal Configuration = (%p, %v), want (existing %p, false)", got, changed, existing)
	}

	svc.Spec.Template.Spec.Containers[0].Image = "example.com/new:v2"
	svc.Labels = map[string]string{"team": "a"}
	desired := MakeConfigurationFromExisting(svc, existing)
	got, changed = ApplyConfiguration(existing, desired)
	if !changed {
		t.Fatal("ApplyConfiguration of a changed template: changed = false")
	}
	if diff := cmp.Diff(before, existing); diff != "" {
		t.Errorf("ApplyConfiguration modified existing (-want +got):\n%s", diff)
	}
	want := before.DeepCopy()
	want.Spec = desired.Spec
	want.Labels = desired.Labels
	want.Annotations = desired.Annotations
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ApplyConfiguration (-want +got):\n%s", diff)
	}
	desired.Labels["later"] = "x"
	if _, ok := got.Labels["later"]; ok {
		t.Error("ApplyConfiguration's result shares its labels with desired")
	}
}

func TestApplyRoute(t *testing.T) {
	svc := seedService(t)
	existing := MakeRoute(svc)
	existing.ResourceVersion = "7"
	existing.Status.URL = "http://helloworld-go.default.svc.cluster.local"
	before := existing.DeepCopy()

	if got, changed := ApplyRoute(existing, MakeRoute(svc)); changed || got != existing {
		t.Errorf("ApplyRoute of an equal Route = (%p, %v), want (existing %p, false)", got, changed, existing)
	}
	// A nil and an empty annotation map are the same.
	svc.Annotations = nil
	existing.Annotations = nil
	if _, changed := ApplyRoute(existing, MakeRoute(svc)); changed {
		t.Error("ApplyRoute: nil and empty annotations compare different")
	}
	existing.Annotations = before.Annotations

	svc = seedService(t)
	svc.Spec.Traffic = []v1.TrafficTarget{{RevisionName: "helloworld-go-00001", LatestRevision: ptr(false), Percent: ptr[int64](100)}}
	desired := MakeRoute(svc)
	got, changed := ApplyRoute(existing, desired)
	if !changed {
		t.Fatal("ApplyRoute of a changed traffic: changed = false")
	}
	if diff := cmp.Diff(before, existing); diff != "" {
		t.Errorf("ApplyRoute modified existing (-want +got):\n%s", diff)
	}
	want := before.DeepCopy()
	want.Spec = desired.Spec
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ApplyRoute (-want +got):\n%s", diff)
	}
}

func BenchmarkMakeConfigurationAndRoute(b *testing.B) {
	svc := seedService(b)
	existing := MakeConfiguration(svc)
	b.ReportAllocs()
	for b.Loop() {
		c := MakeConfigurationFromExisting(svc, existing)
		r := MakeRoute(svc)
		ApplyConfiguration(existing, c)
		_ = r
	}
}
