package kubetest_test

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
)

// A test of your own controller against a real API server with servekit's CRDs,
// running as a service account under the RBAC of config/deploy. (Compiled, not run:
// Start needs the *testing.T of a real test.)
func ExampleStart() {
	testYourController := func(t *testing.T) {
		cfg := kubetest.Start(t) // etcd + kube-apiserver on loopback, CRDs installed
		ctx := context.Background()
		if err := kubetest.ApplyFiles(ctx, cfg, "config/deploy/00-namespace.yaml", "config/deploy/10-rbac.yaml"); err != nil {
			t.Fatal(err)
		}
		sa := kubetest.ServiceAccountConfig(cfg, "servekit", "servekit-controller")
		cs := kubernetes.NewForConfigOrDie(sa)
		if _, err := cs.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("listing Secrets as the controller: %v, want Forbidden", err)
		}
	}
	_ = testYourController
}
