package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/servekit/servekit/serving/runtime/kube/webhook"
)

// A Handler defaults a Service being created: the JSON patch the API server
// applies before storing it.
func ExampleHandler_Default() {
	svc := `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"hello"},
		"spec":{"template":{"spec":{"containers":[{"image":"example.com/hello"}]}}}}`
	resp := (&webhook.Handler{}).Default(&admissionv1.AdmissionRequest{
		UID:       "1",
		Kind:      metav1.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: "Service"},
		Operation: admissionv1.Create,
		UserInfo:  authenticationv1.UserInfo{Username: "alice"},
		Object:    runtime.RawExtension{Raw: []byte(svc)},
	})
	var ops []struct{ Op, Path string }
	_ = json.Unmarshal(resp.Patch, &ops)
	for _, op := range ops {
		fmt.Println(op.Op, op.Path)
	}
	// Output:
	// add /spec/template/metadata
	// add /spec/template/spec/containerConcurrency
	// replace /spec/template/spec/containers
	// add /spec/template/spec/enableServiceLinks
	// add /spec/template/spec/timeoutSeconds
	// add /spec/traffic
	// add /metadata/annotations
}

// A Server registers the webhooks with the API server: here outside a cluster, by
// URL, against a fake clientset. Run would then serve them until its context ends.
func ExampleServer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	cs := fake.NewClientset()
	srv, err := webhook.New(webhook.Options{Client: cs, Listener: ln, Namespace: "servekit", URL: "https://127.0.0.1:8443"})
	if err != nil {
		panic(err)
	}
	if err := srv.Sync(context.Background()); err != nil {
		panic(err)
	}
	v, _ := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(context.Background(), webhook.ValidatingName, metav1.GetOptions{})
	w := v.Webhooks[0]
	fmt.Println(w.Name, *w.ClientConfig.URL, *w.FailurePolicy, len(w.ClientConfig.CABundle) > 0)
	// Output:
	// validation.webhook.serving.knative.dev https://127.0.0.1:8443/resource-validation Fail true
}
