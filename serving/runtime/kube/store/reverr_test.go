package store_test

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"

	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// TestReleaseErrorReachesTheRevisionStatus: the wrapped backend's error in applying a
// released Revision is kept (RevisionError) and written into the API Revision's
// status (RuntimeError with the message); the release is retried, and once it
// succeeds the error is gone and the Revision becomes Ready.
func TestReleaseErrorReachesTheRevisionStatus(t *testing.T) {
	const msg = `kube: create Deployment default/hello-00001-deployment: deployments.apps is forbidden`
	fast := func(o *store.Options) {
		o.RateLimiter = workqueue.NewTypedItemExponentialFailureRateLimiter[store.Ref](5*time.Millisecond, 50*time.Millisecond)
	}
	dyn, _, inner, b := fakeStackWith(t, fast)
	inner.setApplyErr(errors.New(msg))
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(t.Context(), unstructuredService(t, "hello", "api-svc", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "default", Name: "hello-00001"}
	revReady := func() map[string]any {
		rev, err := dyn.Resource(store.RevisionsGVR).Namespace("default").Get(t.Context(), "hello-00001", metav1.GetOptions{})
		if err != nil {
			return nil
		}
		return readyCondition(rev)
	}
	waitUntil(t, "the API Revision's status says RuntimeError", func() bool { return revReady()["reason"] == "RuntimeError" })
	if got := revReady(); got["status"] != "False" || got["message"] != msg {
		t.Errorf("Revision Ready = %v, want False with the message %q", got, msg)
	}
	if err := b.RevisionError(key); err == nil || err.Error() != msg {
		t.Errorf("RevisionError = %v, want %q", err, msg)
	}
	if n := inner.applyCalls(); n < 2 {
		t.Errorf("backend Apply calls = %d, want the failing release retried", n)
	}

	inner.setApplyErr(nil)
	waitUntil(t, "the API Revision Ready", func() bool { return revReady()["status"] == "True" })
	if err := b.RevisionError(key); err != nil {
		t.Errorf("RevisionError after a successful release = %v, want nil", err)
	}
	if uid := inner.uid(key); uid != "Revision-hello-00001" {
		t.Errorf("backend got the revision with UID %q, want the API server's", uid)
	}
}
