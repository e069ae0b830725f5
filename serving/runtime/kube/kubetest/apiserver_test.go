package kubetest_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestStart starts the real servers and checks they answer: the default namespace
// exists (the API server's own bootstrap wrote it to etcd) and the CRDs are installed.
func TestStart(t *testing.T) {
	cfg := kubetest.Start(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace default: %v", err)
	}
	groups, err := cs.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range groups.Groups {
		if g.Name == "serving.knative.dev" {
			found = true
		}
	}
	if !found {
		t.Error("serving.knative.dev is not served after Start")
	}
}
