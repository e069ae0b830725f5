package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/servekit/servekit/serving/runtime/kube/store"
	v1 "github.com/servekit/servekit/serving/v1"
)

// specUpdates counts the spec (not status) updates of resource and lets change
// alter each one before it is stored, as an API server would: bump the generation,
// prune or default fields. A non-nil err fails them all.
func specUpdates(dyn *dynamicfake.FakeDynamicClient, resource string, change func(*unstructured.Unstructured), err error) *counter {
	c := &counter{fail: 1 << 30, err: err}
	if err == nil {
		c.fail = 0
	}
	dyn.PrependReactor("update", resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "" {
			return false, nil, nil
		}
		if u, ok := a.(k8stesting.UpdateAction).GetObject().(*unstructured.Unstructured); ok && change != nil {
			change(u)
		}
		return c.react(a)
	})
	return c
}

func bumpGeneration(u *unstructured.Unstructured) { u.SetGeneration(u.GetGeneration() + 1) }

// TestDefaultsWrittenBack: the leader writes the controller's defaulted spec into
// the API object once per generation: not again for the generation its write made,
// even when the API server's round trip changes the spec (no loop); a conflict is
// skipped, not retried; the re-applied generation stamps no Revision.
func TestDefaultsWrittenBack(t *testing.T) {
	gr := schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}
	for _, tc := range []struct {
		name    string
		change  func(*unstructured.Unstructured)
		err     error
		written bool // the API object ends up with the defaults
		updates int
	}{
		{"written once", bumpGeneration, nil, true, 1},
		{"the round trip differs: not written again", func(u *unstructured.Unstructured) {
			bumpGeneration(u)
			unstructured.RemoveNestedField(u.Object, "spec", "template", "spec", "timeoutSeconds") // pruned
		}, nil, false, 1},
		// The generation has not changed: once more on a fresh read, then skipped.
		{"a conflict is skipped", nil, apierrors.NewConflict(gr, "hello", nil), false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dyn := newFakeDynamic(t, unstructuredService(t, "hello", "api-svc", nil))
			updates := specUpdates(dyn, "services", tc.change, tc.err)
			dyn2, ctrl, _, _ := fakeStackOn(t, dyn)
			waitUntil(t, "the controller's status in the API server", func() bool {
				gen, name, _ := statusOf(getService(t, dyn2))
				return name == "hello-00001" && gen == getService(t, dyn2).GetGeneration()
			})
			n := ctrl.syncs()
			waitUntil(t, "five more syncs", func() bool { return ctrl.syncs() >= n+5 })
			if got := updates.n(); got != tc.updates {
				t.Errorf("spec updates = %d, want %d", got, tc.updates)
			}
			got := getService(t, dyn)
			timeout, _, _ := unstructured.NestedInt64(got.Object, "spec", "template", "spec", "timeoutSeconds")
			traffic, _, _ := unstructured.NestedSlice(got.Object, "spec", "traffic")
			if tc.written {
				if timeout != 300 {
					t.Errorf("spec.template.spec.timeoutSeconds = %d, want the default 300", timeout)
				}
				if diff := cmp.Diff([]any{map[string]any{"latestRevision": true, "percent": int64(100)}}, traffic); diff != "" {
					t.Errorf("spec.traffic (-want +got):\n%s", diff)
				}
			}
			if revs := ctrl.Objects().Revisions; len(revs) != 1 {
				t.Errorf("revisions = %d, want hello-00001 only", len(revs))
			}
		})
	}
}

// TestConfigurationDefaultsNotWrittenBack: a standalone Configuration's generation
// names its Revisions, so its defaults are not written back (that would stamp
// hello-00002 with the same template).
func TestConfigurationDefaultsNotWrittenBack(t *testing.T) {
	cfg := &v1.Configuration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Configuration"},
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", UID: "api-cfg", Generation: 1},
	}
	cfg.Spec.Template.Spec.Containers = []corev1.Container{{Image: "example.com/hello"}}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn := newFakeDynamic(t, &unstructured.Unstructured{Object: m})
	updates := specUpdates(dyn, "configurations", bumpGeneration, nil)
	_, ctrl, _, _ := fakeStackOn(t, dyn)
	waitUntil(t, "the Configuration's status", func() bool {
		got, err := dyn.Resource(store.ConfigurationsGVR).Namespace("default").Get(context.Background(), "hello", metav1.GetOptions{})
		if err != nil {
			return false
		}
		name, _, _ := unstructured.NestedString(got.Object, "status", "latestCreatedRevisionName")
		return name == "hello-00001"
	})
	n := ctrl.syncs()
	waitUntil(t, "five more syncs", func() bool { return ctrl.syncs() >= n+5 })
	var names []string
	for _, r := range ctrl.Objects().Revisions {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"hello-00001"}) || updates.n() != 0 {
		t.Errorf("revisions %v after %d spec updates, want [hello-00001] after none", names, updates.n())
	}
}
