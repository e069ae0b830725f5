package leader_test

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/servekit/servekit/serving/runtime/kube/leader"
)

// Run calls fn once this replica holds the Lease; when fn returns, the Lease is
// released and Run returns fn's result.
func ExampleRun() {
	cs := fake.NewClientset() // kubernetes.NewForConfig(cfg) on a cluster
	err := leader.Run(context.Background(), leader.Options{
		Client: cs, Namespace: "servekit", Name: "servekit-controller", Identity: "replica-1",
	}, func(ctx context.Context) error {
		fmt.Println("leading: the controller and the store run here until ctx is done")
		return nil
	})
	fmt.Println("Run returned:", err)
	// Output:
	// leading: the controller and the store run here until ctx is done
	// Run returned: <nil>
}
