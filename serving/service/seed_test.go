package service

import (
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v1 "github.com/servekit/servekit/serving/v1"
)

// now is the fixed instant of every status test.
var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// seedService reads testdata/helloworld-go.yaml (the seed manifest, byte
// for byte) and applies by hand what Knative's admission does to it
// (seed-example.md §2): the namespace and generation the API server
// sets, the creator/lastModifier annotations, and the defaults. The
// defaults are written out here rather than taken from serving/v1, so that
// this package's tests check against the reference, not against another
// package.
func seedService(t testing.TB) *v1.Service {
	t.Helper()
	b, err := os.ReadFile("testdata/helloworld-go.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svc := &v1.Service{}
	if err := yaml.UnmarshalStrict(b, svc); err != nil {
		t.Fatalf("decoding the seed manifest: %v", err)
	}
	svc.Namespace = "default"
	svc.UID = "svc-uid"
	svc.Generation = 1
	svc.Annotations = map[string]string{
		"serving.knative.dev/creator":      "alice",
		"serving.knative.dev/lastModifier": "alice",
	}
	spec := &svc.Spec.Template.Spec
	spec.ContainerConcurrency = ptr[int64](0)
	spec.TimeoutSeconds = ptr[int64](300)
	spec.EnableServiceLinks = ptr(false)
	c := &spec.Containers[0]
	c.Name = "user-container"
	c.Ports[0].Protocol = corev1.ProtocolTCP
	c.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}},
		SuccessThreshold: 1,
	}
	svc.Spec.Traffic = []v1.TrafficTarget{{LatestRevision: ptr(true), Percent: ptr[int64](100)}}
	return svc
}

// seedTemplate is the seed Service's template after admission
// (seed-example.md §2, "The Service as stored after admission").
func seedTemplate() v1.RevisionTemplateSpec {
	return v1.RevisionTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"app": "helloworld-go"},
			Annotations: map[string]string{"autoscaling.knative.dev/target": "10"},
		},
		Spec: v1.RevisionSpec{
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
		},
	}
}

func serviceOwnerRef() []metav1.OwnerReference {
	return []metav1.OwnerReference{{
		APIVersion:         "serving.knative.dev/v1",
		Kind:               "Service",
		Name:               "helloworld-go",
		UID:                "svc-uid",
		Controller:         ptr(true),
		BlockOwnerDeletion: ptr(true),
	}}
}
