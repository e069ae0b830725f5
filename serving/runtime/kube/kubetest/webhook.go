package kubetest

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/servekit/servekit/serving/runtime/kube/webhook"
)

// WebhookNamespace holds the certificate Secret of StartWebhook's server.
const WebhookNamespace = "servekit"

// StartWebhook runs servekit's admission webhooks (serving/runtime/kube/webhook)
// for the API server of admin: on a new loopback listener, registered by URL, with
// the identity of as (nil means admin's). It makes WebhookNamespace if missing,
// returns once the API server calls the webhooks (a dry-run create of an invalid
// Service is refused by them), and stops the server when the test ends or when
// the returned stop is called (the webhook configurations stay registered, so
// writes of serving.knative.dev objects then fail, as on a cluster whose webhook
// is down).
func StartWebhook(t testing.TB, admin, as *rest.Config) (stop func()) {
	t.Helper()
	if as == nil {
		as = admin
	}
	ctx, cancel := context.WithCancel(context.Background())
	cs := kubernetes.NewForConfigOrDie(admin)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: WebhookNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		cancel()
		t.Fatalf("kubetest: namespace %s: %v", WebhookNamespace, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv, err := webhook.New(webhook.Options{
		Client: kubernetes.NewForConfigOrDie(as), Listener: ln, Namespace: WebhookNamespace,
		URL: "https://" + ln.Addr().String(),
	})
	if err != nil {
		ln.Close()
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("kubetest: webhook: %v", err)
		}
	}
	t.Cleanup(stop)

	// The API server takes the configurations up from a watch: wait until it
	// refuses what only the webhook refuses.
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"name": "kubetest-webhook-probe"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containerConcurrency": int64(-1),
			"containers":           []any{map[string]any{"image": "example.com/probe"}},
		}}},
	}}
	ksvc := dynamic.NewForConfigOrDie(admin).Resource(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}).Namespace("default")
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := ksvc.Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), `admission webhook "`+webhook.ValidatingName+`" denied the request`) {
			return stop
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("kubetest: the API server does not call the webhook after 60s (last answer: %v)", err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval of an observed condition
	}
}
