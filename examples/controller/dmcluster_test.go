package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// helloPod is a fake pod on loopback: it answers the activator's probes, and
// "Hello World!" to every other request. It returns its port.
func helloPod(t *testing.T) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(queue.ProbeHeaderName) == queue.ProbeHeaderValue {
			_, _ = io.WriteString(w, queue.ProbeHeaderValue)
			return
		}
		_, _ = io.WriteString(w, "Hello World!\n")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// dmCondition returns the status, reason and message of a DomainMapping's
// condition typ, as the API server holds it.
func dmCondition(u *unstructured.Unstructured, typ string) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			status, _ = m["status"].(string)
			reason, _ = m["reason"].(string)
			message, _ = m["message"].(string)
		}
	}
	return status, reason, message
}

// clusterDomainMapping is a DomainMapping of dmHost to the Service
// helloworld-go in namespace, with spec.tls.secretName secret unless "", as
// kubectl would create it.
func clusterDomainMapping(t *testing.T, namespace, secret string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	y := domainMappingYAML(namespace)
	if secret != "" {
		y += "  tls:\n    secretName: " + secret + "\n"
	}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// seedInCluster creates the Service helloworld-go in default and a ready fake pod
// for its first revision (an EndpointSlice, as the EndpointSlice controller would
// write it), and waits until r routes its own host.
func seedInCluster(t *testing.T, ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, r *replica) {
	t.Helper()
	var svc unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: helloworld-go
  namespace: default
spec:
  template:
    spec:
      containers:
      - image: example.com/helloworld-go:v1
`), &svc.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, &svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	port := helloPod(t)
	ready := true
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "helloworld-go-00001-private-abcde", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "helloworld-go-00001-private", "serving.knative.dev/revision": "helloworld-go-00001"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("http"), Port: new(port)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{fakeNet + "10"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "helloworld-go-00001-deployment-1"}}},
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Service routed", 60*time.Second, func() bool {
		code, _ := hostGet(r.ingress.Addr().String(), seedHost)
		return code == http.StatusOK
	})
}

// hostGet returns the status code and body of GET / on addr with Host host (0
// and the error on a transport error).
func hostGet(addr, host string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = host
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRealDomainMappingCluster runs a controller replica in cluster mode, with
// config/deploy's RBAC, against a real API server: a DomainMapping
// hello.example.com created with client-go gets DomainClaimed, ReferenceResolved
// and Ready True and status.url from the controller, and the replica's ingress
// routes Host hello.example.com to the Service's pod; the same host mapped in
// another namespace is refused (DomainAlreadyClaimed); deleting the first
// mapping stops the routing (404) and hands the claim over.
func TestRealDomainMappingCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real API server")
	}
	cfg := kubetest.Start(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	if err := kubetest.ApplyFiles(ctx, cfg, "../../config/deploy/00-namespace.yaml", "../../config/deploy/10-rbac.yaml"); err != nil {
		t.Fatal(err)
	}
	sa := kubetest.ServiceAccountConfig(cfg, "servekit", "servekit-controller")
	r := startReplicaWith(t, sa, "replica-0", fakeNet+"1", toLoopback, "", "")
	seedInCluster(t, ctx, cs, dyn, r)

	dms := func(ns string) dynamic.ResourceInterface { return dyn.Resource(store.DomainMappingsGVR).Namespace(ns) }
	if _, err := dms("default").Create(ctx, clusterDomainMapping(t, "default", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *unstructured.Unstructured
	waitFor(t, "the DomainMapping Ready", 30*time.Second, func() bool {
		got, _ = dms("default").Get(ctx, dmHost, metav1.GetOptions{})
		if got == nil {
			return false
		}
		ready, _, _ := dmCondition(got, "Ready")
		gen, _, _ := unstructured.NestedInt64(got.Object, "status", "observedGeneration")
		return ready == "True" && gen == got.GetGeneration()
	})
	for _, typ := range []string{"DomainClaimed", "ReferenceResolved", "IngressReady"} {
		if st, reason, msg := dmCondition(got, typ); st != "True" {
			t.Errorf("%s = %s %s %q, want True", typ, st, reason, msg)
		}
	}
	if st, reason, _ := dmCondition(got, "CertificateProvisioned"); st != "True" || reason != "TLSNotEnabled" {
		t.Errorf("CertificateProvisioned = %s %s, want True TLSNotEnabled (no HTTPS ingress)", st, reason)
	}
	if url, _, _ := unstructured.NestedString(got.Object, "status", "url"); url != "http://"+dmHost {
		t.Errorf("status.url = %q, want http://%s", url, dmHost)
	}
	if code, body := hostGet(r.ingress.Addr().String(), dmHost); code != http.StatusOK || body != "Hello World!\n" {
		t.Fatalf("GET Host %s through the cluster ingress = %d %q, want 200 Hello World!", dmHost, code, body)
	}

	// The same host from another namespace: refused, and the host still goes
	// to default's Service.
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dms("other").Create(ctx, clusterDomainMapping(t, "other", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second mapping refused", 30*time.Second, func() bool {
		got, _ = dms("other").Get(ctx, dmHost, metav1.GetOptions{})
		if got == nil {
			return false
		}
		st, reason, msg := dmCondition(got, "DomainClaimed")
		return st == "False" && reason == "DomainAlreadyClaimed" && msg == "The domain name is already in use by another DomainMapping"
	})
	if st, reason, _ := dmCondition(got, "Ready"); st != "False" || reason != "DomainAlreadyClaimed" {
		t.Errorf("the refused mapping's Ready = %s %s, want False DomainAlreadyClaimed", st, reason)
	}
	if code, body := hostGet(r.ingress.Addr().String(), dmHost); code != http.StatusOK || body != "Hello World!\n" {
		t.Errorf("GET Host %s with a refused second mapping = %d %q, want 200 from default's Service", dmHost, code, body)
	}

	// Deleting the mapping stops the routing; other's mapping then holds the
	// claim, but other has no helloworld-go to resolve.
	if err := dms("default").Delete(ctx, dmHost, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the host no longer routed", 30*time.Second, func() bool {
		code, _ := hostGet(r.ingress.Addr().String(), dmHost)
		return code == http.StatusNotFound
	})
	waitFor(t, "the claim handed over", 30*time.Second, func() bool {
		got, _ = dms("other").Get(ctx, dmHost, metav1.GetOptions{})
		claimed, _, _ := dmCondition(got, "DomainClaimed")
		resolved, reason, _ := dmCondition(got, "ReferenceResolved")
		return claimed == "True" && resolved == "False" && reason == "ResolveFailed"
	})
	if code, body := hostGet(r.ingress.Addr().String(), seedHost); code != http.StatusOK || body != "Hello World!\n" {
		t.Errorf("the Service's own host = %d %q, want 200", code, body)
	}
}
