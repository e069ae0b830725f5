package store_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/runtime/kube"
	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// TestRealUIDLabelsAreAPIUIDs: the serving.knative.dev/serviceUID and
// configurationUID labels of the Configuration, the Revision, its Deployment and the
// Deployment's pods are the API objects' UIDs (as in Knative, so that selecting by
// them works), and a controller restart changes them nowhere: the first Deployment's
// pod template and generation stay as they were, and the Deployment of a Revision
// made after the restart carries the same UIDs. (Before, they held the controller's
// own ids, "default.helloworld-go.<ns>", new at every start.) A Configuration label
// written by an older controller is rewritten, without a new generation.
func TestRealUIDLabelsAreAPIUIDs(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)
	_, stop := startStack(t, cfg)
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, seed(t), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deployment := func(name string) *appsv1.Deployment {
		t.Helper()
		var d *appsv1.Deployment
		waitFor(t, "the Deployment "+name, func() bool {
			var err error
			d, err = cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
			return err == nil
		})
		return d
	}
	dep1 := deployment(kube.DeploymentName("helloworld-go-00001"))
	svc, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
	if err != nil {
		t.Fatal(err)
	}
	cfgObj, err := get(ctx, dyn, store.ConfigurationsGVR, "helloworld-go")
	if err != nil {
		t.Fatal(err)
	}
	svcUID, cfgUID := string(svc.GetUID()), string(cfgObj.GetUID())

	// checkUIDs checks the UID labels of one Revision and of its Deployment.
	checkUIDs := func(rev string, d *appsv1.Deployment) {
		t.Helper()
		want := map[string]string{serving.ServiceUIDLabelKey: svcUID, serving.ConfigurationUIDLabelKey: cfgUID}
		pick := func(labels map[string]string) map[string]string {
			return map[string]string{serving.ServiceUIDLabelKey: labels[serving.ServiceUIDLabelKey], serving.ConfigurationUIDLabelKey: labels[serving.ConfigurationUIDLabelKey]}
		}
		r, err := get(ctx, dyn, store.RevisionsGVR, rev)
		if err != nil {
			t.Fatal(err)
		}
		for what, labels := range map[string]map[string]string{
			"Revision " + rev:          r.GetLabels(),
			"its Deployment":           d.Labels,
			"its Deployment's pods":    d.Spec.Template.Labels,
			"its Deployment, selected": d.Spec.Selector.MatchLabels, // only the revisionUID
		} {
			if what == "its Deployment, selected" {
				if got := labels[kube.RevisionUIDLabelKey]; got != string(r.GetUID()) {
					t.Errorf("%s by %s = %q, want the Revision's UID %s", what, kube.RevisionUIDLabelKey, got, r.GetUID())
				}
				continue
			}
			if diff := cmp.Diff(want, pick(labels)); diff != "" {
				t.Errorf("UID labels of %s (-want API UIDs +got):\n%s", what, diff)
			}
		}
	}
	if got := cfgObj.GetLabels()[serving.ServiceUIDLabelKey]; got != svcUID {
		t.Errorf("Configuration label %s = %q, want the Service's UID %s", serving.ServiceUIDLabelKey, got, svcUID)
	}
	checkUIDs("helloworld-go-00001", dep1)
	stop()

	// An older controller wrote its own id into the Configuration's label: the next
	// one rewrites it (the spec is the same: no new generation).
	cfgObj, err = get(ctx, dyn, store.ConfigurationsGVR, "helloworld-go")
	if err != nil {
		t.Fatal(err)
	}
	cfgGen := cfgObj.GetGeneration()
	labels := cfgObj.GetLabels()
	labels[serving.ServiceUIDLabelKey] = "default.helloworld-go.1796366097427271891"
	cfgObj.SetLabels(labels)
	if _, err := dyn.Resource(store.ConfigurationsGVR).Namespace("default").Update(ctx, cfgObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	ctrl2, _ := startStack(t, cfg)
	waitFor(t, "the restarted controller to adopt helloworld-go-00001", func() bool {
		st := ctrl2.Status()
		return len(st.Services) == 1 && st.Services[0].LatestCreatedRevisionName == "helloworld-go-00001"
	})
	waitFor(t, "the Configuration's label rewritten", func() bool {
		c, err := get(ctx, dyn, store.ConfigurationsGVR, "helloworld-go")
		return err == nil && c.GetLabels()[serving.ServiceUIDLabelKey] == svcUID
	})
	if c, _ := get(ctx, dyn, store.ConfigurationsGVR, "helloworld-go"); c.GetGeneration() != cfgGen {
		t.Errorf("Configuration generation = %d after its label was rewritten, want %d", c.GetGeneration(), cfgGen)
	}
	if got := ctrl2.Objects().Services[0].UID; string(got) != svcUID {
		t.Errorf("the restarted controller's Service UID = %s, want the API server's %s", got, svcUID)
	}
	// A template change after the restart: its Revision and Deployment carry the
	// same UIDs.
	setTarget(t, dyn, "after the restart")
	dep2 := deployment(kube.DeploymentName("helloworld-go-00002"))
	checkUIDs("helloworld-go-00002", dep2)

	got := deployment(kube.DeploymentName("helloworld-go-00001"))
	if diff := cmp.Diff(dep1.Spec.Template, got.Spec.Template); diff != "" {
		t.Errorf("helloworld-go-00001's pod template changed across the restart (-before +after):\n%s", diff)
	}
	if got.Generation != dep1.Generation {
		t.Errorf("helloworld-go-00001's Deployment generation = %d after the restart, want %d", got.Generation, dep1.Generation)
	}
	cfgObj, err = get(ctx, dyn, store.ConfigurationsGVR, "helloworld-go")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfgObj.GetLabels()[serving.ServiceUIDLabelKey]; got != svcUID {
		t.Errorf("Configuration label %s after the restart = %q, want the Service's UID %s", serving.ServiceUIDLabelKey, got, svcUID)
	}
}
