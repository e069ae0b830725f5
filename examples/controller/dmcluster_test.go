package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/internal/testcert"
	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving/platform/cluster"
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

// clusterDomainMapping is a DomainMapping of host to the Service helloworld-go
// in namespace, with spec.tls.secretName secret unless "", as kubectl would
// create it.
func clusterDomainMapping(t *testing.T, namespace, host, secret string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	y := strings.Replace(domainMappingYAML(namespace), "name: "+dmHost, "name: "+host, 1)
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
	// The pod's EndpointSlice once its Deployment exists, as in a cluster.
	waitFor(t, "the revision's Deployment", 30*time.Second, func() bool {
		_, err := cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
		return err == nil
	})
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
// config/deploy's RBAC and an HTTPS ingress, against a real API server: a
// DomainMapping hello.example.com created with client-go gets DomainClaimed,
// ReferenceResolved and Ready True and status.url from the controller, and the
// replica's ingress routes Host hello.example.com to the Service's pod; the same
// host mapped in another namespace is refused (DomainAlreadyClaimed); deleting
// the first mapping stops the routing (404) and hands the claim over. A mapping
// whose spec.tls names a Secret is CertificateProvisioned False, SecretForbidden,
// until a RoleBinding lets the controller read Secrets in its namespace, then
// SecretNotFound (naming it) until the Secret is created with client-go; then it
// is Ready with an https URL, and an HTTPS request to the host gets the Secret's
// certificate and the Service's answer.
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
	httpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { httpsLn.Close() }) // after the replica's stop (cleanups run last first)
	r := startReplicaOpts(t, sa, "replica-0", fakeNet+"1", toLoopback, "", "", func(o *cluster.Options) {
		o.TLSIngress, o.SecretInterval = httpsLn, 200*time.Millisecond
	})
	seedInCluster(t, ctx, cs, dyn, r)

	dms := func(ns string) dynamic.ResourceInterface { return dyn.Resource(store.DomainMappingsGVR).Namespace(ns) }
	if _, err := dms("default").Create(ctx, clusterDomainMapping(t, "default", dmHost, ""), metav1.CreateOptions{}); err != nil {
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
	if _, err := dms("other").Create(ctx, clusterDomainMapping(t, "other", dmHost, ""), metav1.CreateOptions{}); err != nil {
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

	// HTTPS with the mapping's own certificate, from a Secret created later.
	const tlsHost = "secure.example.com"
	if _, err := dms("default").Create(ctx, clusterDomainMapping(t, "default", tlsHost, "secure-tls"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The controller may read no Secret in default until a RoleBinding lets it.
	waitFor(t, "the Secret reported unreadable", 30*time.Second, func() bool {
		got, _ = dms("default").Get(ctx, tlsHost, metav1.GetOptions{})
		st, reason, msg := dmCondition(got, "CertificateProvisioned")
		return st == "False" && reason == "SecretForbidden" && strings.Contains(msg, "bind the ClusterRole servekit-domainmapping-secrets")
	})
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "servekit-domainmapping-secrets", Namespace: "default"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "servekit-domainmapping-secrets"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "servekit", Name: "servekit-controller"}}}
	if _, err := cs.RbacV1().RoleBindings("default").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Secret reported missing", 30*time.Second, func() bool {
		got, _ = dms("default").Get(ctx, tlsHost, metav1.GetOptions{})
		st, reason, msg := dmCondition(got, "CertificateProvisioned")
		return st == "False" && reason == "SecretNotFound" && msg == "Secret default/secure-tls not found"
	})
	if st, reason, _ := dmCondition(got, "Ready"); st != "False" || reason != "SecretNotFound" {
		t.Errorf("Ready of a mapping whose Secret is missing = %s %s, want False SecretNotFound", st, reason)
	}
	if url, _, _ := unstructured.NestedString(got.Object, "status", "url"); url != "https://"+tlsHost {
		t.Errorf("status.url with spec.tls = %q, want https://%s", url, tlsHost)
	}
	ca, err := testcert.NewCA("servekit e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	crt, key, serial, err := ca.Issue(tlsHost)
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "secure-tls", Namespace: "default"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mapping with its Secret Ready", 30*time.Second, func() bool {
		got, _ = dms("default").Get(ctx, tlsHost, metav1.GetOptions{})
		ready, _, _ := dmCondition(got, "Ready")
		cert, _, _ := dmCondition(got, "CertificateProvisioned")
		return ready == "True" && cert == "True"
	})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: tlsHost}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "https://"+httpsLn.Addr().String()+"/", nil)
	req.Host = tlsHost
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("HTTPS GET %s through the cluster ingress: %v", tlsHost, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "Hello World!\n" || resp.TLS.PeerCertificates[0].SerialNumber.Cmp(serial) != 0 {
		t.Errorf("HTTPS GET %s = %s %q with certificate %v, want 200 Hello World! with the Secret's %v",
			tlsHost, resp.Status, b, resp.TLS.PeerCertificates[0].SerialNumber, serial)
	}
}
