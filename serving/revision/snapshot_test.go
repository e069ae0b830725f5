package revision

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// now is the fixed instant the tests stamp Revisions at.
var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// seedTemplateSpec is the seed helloworld-go template spec as stored after
// admission (seed-example.md §2).
func seedTemplateSpec() v1.RevisionSpec {
	return v1.RevisionSpec{
		PodSpec: corev1.PodSpec{
			EnableServiceLinks: ptr(false),
			Containers: []corev1.Container{{
				Name:  "user-container",
				Image: "registry.cn-hangzhou.aliyuncs.com/knative-sample/helloworld-go:160e4dc8",
				Ports: []corev1.ContainerPort{{Name: "http1", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "TARGET", Value: "World"}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{},
					Limits:   corev1.ResourceList{},
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}},
					SuccessThreshold: 1,
				},
			}},
		},
		ContainerConcurrency: ptr[int64](0),
		TimeoutSeconds:       ptr[int64](300),
	}
}

// seedConfiguration is the Configuration Knative's Service reconciler makes
// from the seed Service (seed-example.md §3.1).
func seedConfiguration() *v1.Configuration {
	return &v1.Configuration{
		ObjectMeta: metav1.ObjectMeta{
			Name:       "helloworld-go",
			Namespace:  "default",
			UID:        "cfg-uid",
			Generation: 1,
			Labels: map[string]string{
				serving.ServiceLabelKey:    "helloworld-go",
				serving.ServiceUIDLabelKey: "svc-uid",
			},
			Annotations: map[string]string{
				serving.CreatorAnnotation:   "alice",
				serving.UpdaterAnnotation:   "alice",
				serving.RoutesAnnotationKey: "helloworld-go",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "helloworld-go", UID: "svc-uid",
				Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{
				Labels:      map[string]string{"app": "helloworld-go"},
				Annotations: map[string]string{"autoscaling.knative.dev/target": "10"},
			},
			Spec: seedTemplateSpec(),
		}},
	}
}

// seedRevision is helloworld-go-00001 as Knative's MakeRevision stamps it
// (seed-example.md §3.2), plus the TypeMeta and creation time Snapshot
// fills in.
func seedRevision() *v1.Revision {
	return &v1.Revision{
		TypeMeta: metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Revision"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              "helloworld-go-00001",
			Namespace:         "default",
			CreationTimestamp: metav1.NewTime(now),
			Labels: map[string]string{
				"app":                               "helloworld-go",
				"serving.knative.dev/configuration": "helloworld-go",
				"serving.knative.dev/configurationGeneration": "1",
				"serving.knative.dev/configurationUID":        "cfg-uid",
				"serving.knative.dev/service":                 "helloworld-go",
				"serving.knative.dev/serviceUID":              "svc-uid",
				"serving.knative.dev/routingState":            "active",
			},
			Annotations: map[string]string{
				"autoscaling.knative.dev/target":           "10",
				"serving.knative.dev/creator":              "alice",
				"serving.knative.dev/routes":               "helloworld-go",
				"serving.knative.dev/routingStateModified": "2026-11-27T12:00:00Z",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         "serving.knative.dev/v1",
				Kind:               "Configuration",
				Name:               "helloworld-go",
				UID:                "cfg-uid",
				Controller:         ptr(true),
				BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: seedTemplateSpec(),
	}
}

func TestSnapshot(t *testing.T) {
	tests := []struct {
		name   string
		config func(*v1.Configuration)
		want   func(*v1.Revision)
	}{{
		name: "seed helloworld-go, generation 1",
	}, {
		name:   "generation 2 stamps -00002",
		config: func(c *v1.Configuration) { c.Generation = 2 },
		want: func(r *v1.Revision) {
			r.Name = "helloworld-go-00002"
			r.Labels[serving.ConfigurationGenerationLabelKey] = "2"
		},
	}, {
		name:   "bring-your-own name is honoured",
		config: func(c *v1.Configuration) { c.Generation = 3; c.Spec.Template.Name = "helloworld-go-v2" },
		want: func(r *v1.Revision) {
			r.Name = "helloworld-go-v2"
			r.Labels[serving.ConfigurationGenerationLabelKey] = "3"
		},
	}, {
		name:   "template generateName is kept",
		config: func(c *v1.Configuration) { c.Spec.Template.GenerateName = "helloworld-go-" },
		want:   func(r *v1.Revision) { r.GenerateName = "helloworld-go-" },
	}, {
		name:   "without a routes annotation the Revision is pending",
		config: func(c *v1.Configuration) { delete(c.Annotations, serving.RoutesAnnotationKey) },
		want: func(r *v1.Revision) {
			r.Labels[serving.RoutingStateLabelKey] = serving.RoutingStatePending
			delete(r.Annotations, serving.RoutesAnnotationKey)
		},
	}, {
		name:   "an empty routes annotation is copied but routes nothing",
		config: func(c *v1.Configuration) { c.Annotations[serving.RoutesAnnotationKey] = "" },
		want: func(r *v1.Revision) {
			r.Labels[serving.RoutingStateLabelKey] = serving.RoutingStatePending
			r.Annotations[serving.RoutesAnnotationKey] = ""
		},
	}, {
		name: "creator is the configuration's last modifier",
		config: func(c *v1.Configuration) {
			c.Annotations[serving.CreatorAnnotation] = "alice"
			c.Annotations[serving.UpdaterAnnotation] = "bob"
		},
		want: func(r *v1.Revision) { r.Annotations[serving.CreatorAnnotation] = "bob" },
	}, {
		name:   "no last modifier, no creator",
		config: func(c *v1.Configuration) { c.Annotations = nil },
		want: func(r *v1.Revision) {
			delete(r.Annotations, serving.CreatorAnnotation)
			delete(r.Annotations, serving.RoutesAnnotationKey)
			r.Labels[serving.RoutingStateLabelKey] = serving.RoutingStatePending
		},
	}, {
		name: "standalone configuration: no service labels, no UID label without a UID",
		config: func(c *v1.Configuration) {
			c.Labels = nil
			c.UID = ""
			c.OwnerReferences = nil
		},
		want: func(r *v1.Revision) {
			delete(r.Labels, serving.ServiceLabelKey)
			delete(r.Labels, serving.ServiceUIDLabelKey)
			delete(r.Labels, serving.ConfigurationUIDLabelKey)
			r.OwnerReferences[0].UID = ""
		},
	}, {
		name: "template labels that collide with Knative's are overwritten",
		config: func(c *v1.Configuration) {
			c.Spec.Template.Labels[serving.ConfigurationLabelKey] = "someone-else"
			c.Spec.Template.Labels[serving.ConfigurationGenerationLabelKey] = "99"
			c.Spec.Template.Labels[serving.RoutingStateLabelKey] = serving.RoutingStateReserve
			c.Spec.Template.Annotations[serving.RoutingStateModifiedAnnotationKey] = "2001-01-01T00:00:00Z"
			c.Spec.Template.Annotations[serving.CreatorAnnotation] = "mallory"
		},
	}, {
		name: "template creator is kept when the configuration has no last modifier",
		config: func(c *v1.Configuration) {
			delete(c.Annotations, serving.UpdaterAnnotation)
			c.Spec.Template.Annotations[serving.CreatorAnnotation] = "carol"
		},
		want: func(r *v1.Revision) { r.Annotations[serving.CreatorAnnotation] = "carol" },
	}, {
		name:   "template without labels or annotations",
		config: func(c *v1.Configuration) { c.Spec.Template.Labels = nil; c.Spec.Template.Annotations = nil },
		want: func(r *v1.Revision) {
			delete(r.Labels, "app")
			delete(r.Annotations, "autoscaling.knative.dev/target")
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := seedConfiguration()
			if tc.config != nil {
				tc.config(cfg)
			}
			want := seedRevision()
			if tc.want != nil {
				tc.want(want)
			}
			got, err := Snapshot(cfg, now)
			if err != nil {
				t.Fatalf("Snapshot: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Snapshot (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSnapshotRoutingStateModifiedIsUTC(t *testing.T) {
	at := time.Date(2026, 11, 27, 13, 30, 15, 999, time.FixedZone("CET", 3600))
	got, err := Snapshot(seedConfiguration(), at)
	if err != nil {
		t.Fatal(err)
	}
	if v, want := got.Annotations[serving.RoutingStateModifiedAnnotationKey], "2026-11-27T12:30:15Z"; v != want {
		t.Errorf("routingStateModified = %q, want %q", v, want)
	}
}

func TestSnapshotErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  *v1.Configuration
		want string
	}{
		{name: "nil", cfg: nil, want: "revision: nil Configuration"},
		{name: "no name", cfg: &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Generation: 1}},
			want: "revision: Configuration has no metadata.name"},
		{name: "generation 0", cfg: &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "hello"}},
			want: `revision: Configuration "hello": invalid metadata.generation 0: generations start at 1`},
		{name: "negative generation", cfg: &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "hello", Generation: -3}},
			want: `revision: Configuration "hello": invalid metadata.generation -3: generations start at 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Snapshot(tc.cfg, now)
			if err == nil {
				t.Fatalf("Snapshot = %v, want error %q", got, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Snapshot error = %q, want %q", err, tc.want)
			}
		})
	}
}

// TestSnapshotIsADeepCopy mutates every map, slice and pointer reachable
// from the Configuration after the snapshot, and the snapshot itself, and
// checks that neither side sees the other's change.
func TestSnapshotIsADeepCopy(t *testing.T) {
	cfg := seedConfiguration()
	c := &cfg.Spec.Template.Spec.Containers[0]
	c.Args = []string{"--flag"}
	c.Command = []string{"/server"}
	c.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("128Mi")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/data"}}
	cfg.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	cfg.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}

	rev, err := Snapshot(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	wantRev := rev.DeepCopy()
	wantCfg := cfg.DeepCopy()

	// Mutate the Configuration: the Revision must not change.
	cfg.Labels["new"] = "x"
	cfg.Annotations[serving.UpdaterAnnotation] = "mallory"
	cfg.Spec.Template.Labels["app"] = "changed"
	cfg.Spec.Template.Annotations["autoscaling.knative.dev/target"] = "99"
	c.Env[0].Value = "Mars"
	c.Env = append(c.Env, corev1.EnvVar{Name: "EXTRA"})
	c.Args[0] = "--other"
	c.Command[0] = "/bin/sh"
	c.Ports[0].ContainerPort = 9999
	c.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
	c.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1")
	c.ReadinessProbe.SuccessThreshold = 5
	c.ReadinessProbe.TCPSocket.Host = "evil"
	c.VolumeMounts[0].MountPath = "/other"
	cfg.Spec.Template.Spec.Volumes[0].EmptyDir.Medium = corev1.StorageMediumMemory
	cfg.Spec.Template.Spec.NodeSelector["zone"] = "b"
	*cfg.Spec.Template.Spec.ContainerConcurrency = 7
	*cfg.Spec.Template.Spec.TimeoutSeconds = 1
	*cfg.Spec.Template.Spec.EnableServiceLinks = true
	*cfg.OwnerReferences[0].Controller = false
	if diff := cmp.Diff(wantRev, rev); diff != "" {
		t.Errorf("mutating the Configuration changed the snapshot (-want +got):\n%s", diff)
	}

	// Mutate the Revision: a fresh Configuration must not change.
	cfg = wantCfg.DeepCopy()
	rev, err = Snapshot(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	rc := &rev.Spec.Containers[0]
	rev.Labels["app"] = "changed"
	rev.Annotations["autoscaling.knative.dev/target"] = "1"
	rc.Env[0].Value = "Venus"
	rc.Args[0] = "--x"
	rc.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("2Gi")
	rc.ReadinessProbe.TCPSocket.Host = "x"
	rev.Spec.NodeSelector["zone"] = "c"
	*rev.Spec.ContainerConcurrency = 3
	*rev.OwnerReferences[0].Controller = false
	if diff := cmp.Diff(wantCfg, cfg); diff != "" {
		t.Errorf("mutating the snapshot changed the Configuration (-want +got):\n%s", diff)
	}
}

func BenchmarkSnapshot(b *testing.B) {
	cfg := seedConfiguration()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Snapshot(cfg, now); err != nil {
			b.Fatal(err)
		}
	}
}
