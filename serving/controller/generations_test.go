package controller_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
)

// revisionImages maps each Revision the controller holds to its image.
func revisionImages(c *controller.Controller) map[string]string {
	out := map[string]string{}
	for _, r := range c.Objects().Revisions {
		out[r.Name] = r.Spec.Containers[0].Image
	}
	return out
}

// TestConfigurationSourceGeneration: a controller restarted with a Configuration at
// generation 3 in its source (the API server) stamps hello-00003, as Knative names
// it, while a manifest file's Configuration is numbered by the controller from 1.
func TestConfigurationSourceGeneration(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sourceGens bool
		want       map[string]string
	}{
		{name: "API server generation", sourceGens: true, want: map[string]string{"hello-00003": "img:v3"}},
		{name: "manifest file", sourceGens: false, want: map[string]string{"hello-00001": "img:v3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := controller.New(controller.Options{Backend: newFakeBackend(), SourceGenerations: tc.sourceGens})
			if err != nil {
				t.Fatal(err)
			}
			run(t, c)
			cfg := &v1.Configuration{
				TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Configuration"},
				ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", Generation: 3},
				Spec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
					Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "img:v3"}}}},
				}},
			}
			if err := c.Apply("kube:configurations/default/hello", []v1.Object{cfg}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a Revision", func() bool { return len(c.Objects().Revisions) > 0 })
			if diff := cmp.Diff(tc.want, revisionImages(c)); diff != "" {
				t.Errorf("revisions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServiceConfigurationWaitsForSourceGeneration: with source generations, a
// restarted controller's Service (generation 3 in the API server) stamps no
// Revision until the store confirms the API server's generation of the
// Configuration's spec; a confirmation for another spec (a stale template) is
// refused, so no Revision is stamped (or adopted) under a stale generation.
func TestServiceConfigurationWaitsForSourceGeneration(t *testing.T) {
	c, err := controller.New(controller.Options{Backend: newFakeBackend(), SourceGenerations: true})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	svc := testService("hello", "img:v3")
	svc.Generation = 3
	if err := c.Apply("kube:services/default/hello", []v1.Object{svc}); err != nil {
		t.Fatal(err)
	}
	var spec v1.ConfigurationSpec
	waitFor(t, "the Service's Configuration", func() bool {
		cfgs := c.Objects().Configurations
		if len(cfgs) == 1 {
			spec = cfgs[0].Spec
		}
		return len(cfgs) == 1
	})
	key := types.NamespacedName{Namespace: "default", Name: "hello"}
	stale := spec.DeepCopy()
	stale.Template.Spec.Containers[0].Image = "img:v2"
	if c.ConfirmGeneration(key, stale, 2) {
		t.Error("ConfirmGeneration with a stale spec = true, want false")
	}
	if g := c.Objects().Configurations[0].Generation; g != 0 {
		t.Errorf("Configuration generation before confirmation = %d, want 0 (waiting)", g)
	}
	if !c.ConfirmGeneration(key, &spec, 3) {
		t.Fatal("ConfirmGeneration with the current spec = false, want true")
	}
	if c.ConfirmGeneration(key, &spec, 4) {
		t.Error("second ConfirmGeneration = true, want false (the generation is set)")
	}
	waitFor(t, "a Revision", func() bool { return len(c.Objects().Revisions) > 0 })
	if diff := cmp.Diff(map[string]string{"hello-00003": "img:v3"}, revisionImages(c)); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}

	// A template change waits again, then takes the next API server generation.
	svc.Spec.Template.Spec.Containers[0].Image = "img:v4"
	svc.Generation = 4
	if err := c.Apply("kube:services/default/hello", []v1.Object{svc}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the changed Configuration", func() bool {
		cfgs := c.Objects().Configurations
		if len(cfgs) == 1 && cfgs[0].Generation == 0 {
			spec = cfgs[0].Spec
			return true
		}
		return false
	})
	if !c.ConfirmGeneration(key, &spec, 4) {
		t.Fatal("ConfirmGeneration of the changed spec = false, want true")
	}
	waitFor(t, "hello-00004", func() bool { _, ok := revisionImages(c)["hello-00004"]; return ok })
	if got := revisionImages(c); got["hello-00004"] != "img:v4" || got["hello-00003"] != "img:v3" {
		t.Errorf("revisions = %v, want hello-00003 img:v3 and hello-00004 img:v4", got)
	}
}
