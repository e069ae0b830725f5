package controller_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

func testDomainMapping(namespace, host, kind, name string) *v1beta1.DomainMapping {
	return &v1beta1.DomainMapping{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1beta1", Kind: "DomainMapping"},
		ObjectMeta: metav1.ObjectMeta{Name: host, Namespace: namespace},
		Spec: v1beta1.DomainMappingSpec{Ref: v1beta1.KReference{
			APIVersion: "serving.knative.dev/v1", Kind: kind, Name: name,
		}},
	}
}

// dmStatus returns the Status row of the DomainMapping namespace/host.
func dmStatus(c *controller.Controller, namespace, host string) (controller.DomainMappingStatus, bool) {
	for _, d := range c.Status().DomainMappings {
		if d.Namespace == namespace && d.Name == host {
			return d, true
		}
	}
	return controller.DomainMappingStatus{}, false
}

// TestDomainMapping: a DomainMapping to a Service that does not exist yet reports
// ReferenceResolved False with Knative's reason and message and routes nothing;
// once the Service exists its host gets the Service's traffic. The same host
// mapped from another namespace is refused (DomainAlreadyClaimed) and routes
// nothing, also after a restart on the store; deleting the first mapping stops its
// routing and hands the claim to the other one.
func TestDomainMapping(t *testing.T) {
	const host = "hello.example.com"
	store := newMemStore()
	c1, stop1 := startWith(t, store)
	if err := c1.Apply("dm.yaml", []v1.Object{testDomainMapping("", host, "Service", "hello")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ReferenceResolved False", func() bool {
		d, _ := dmStatus(c1, "default", host)
		return d.Reason == "ResolveFailed"
	})
	d, _ := dmStatus(c1, "default", host)
	want := controller.DomainMappingStatus{
		Name: host, Namespace: "default", URL: "http://" + host, Ref: "Service default/hello",
		Reason: "ResolveFailed", Message: `failed to get object default/hello: services.serving.knative.dev "hello" not found`,
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("status of a mapping to a missing Service (-want +got):\n%s", diff)
	}
	if code, _ := serve(c1.Handler(), host); code != http.StatusNotFound {
		t.Errorf("GET Host %s before the Service exists = %d, want 404", host, code)
	}

	if err := c1.Apply("hello.yaml", []v1.Object{testService("hello", "img:v1")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mapping Ready", func() bool { d, _ := dmStatus(c1, "default", host); return d.Ready })
	if code, body := serve(c1.Handler(), host); code != http.StatusOK || body != "rev=hello-00001" {
		t.Errorf("GET Host %s = %d %q, want 200 rev=hello-00001", host, code, body)
	}

	// The same host from another namespace: refused, routes nothing of its own.
	if err := c1.Apply("other.yaml", []v1.Object{testDomainMapping("other", host, "Service", "hello")}); err != nil {
		t.Fatal(err)
	}
	wantOther := controller.DomainMappingStatus{
		Name: host, Namespace: "other", URL: "http://" + host, Ref: "Service other/hello",
		Reason: "DomainAlreadyClaimed", Message: "The domain name is already in use by another DomainMapping",
	}
	waitFor(t, "the second claim refused", func() bool { d, _ := dmStatus(c1, "other", host); return d.Reason != "" })
	if d, _ := dmStatus(c1, "other", host); !cmp.Equal(wantOther, d) {
		t.Errorf("status of the second mapping (-want +got):\n%s", cmp.Diff(wantOther, d))
	}
	// A host that is already a Route's host is not taken.
	if err := c1.Apply("conflict.yaml", []v1.Object{testDomainMapping("", "hello.default.example.com", "Service", "hello")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Route's host refused", func() bool {
		d, _ := dmStatus(c1, "default", "hello.default.example.com")
		return d.Reason == "DomainConflict"
	})
	if code, body := serve(c1.Handler(), "hello.default.example.com"); code != http.StatusOK || body != "rev=hello-00001" {
		t.Errorf("the Route's own host = %d %q, want 200 rev=hello-00001", code, body)
	}
	stop1()

	// A restart on the store: the claim, the statuses and the routing are back
	// before Run.
	c2, err := controller.New(controller.Options{Backend: newFakeBackend(), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := dmStatus(c2, "other", host); !cmp.Equal(wantOther, d) {
		t.Errorf("after a restart, the second mapping (-want +got):\n%s", cmp.Diff(wantOther, d))
	}
	if d, _ := dmStatus(c2, "default", host); !d.Ready {
		t.Errorf("after a restart, the first mapping = %+v, want Ready", d)
	}
	run(t, c2)
	if code, body := serve(c2.Handler(), host); code != http.StatusOK || body != "rev=hello-00001" {
		t.Errorf("after a restart, GET Host %s = %d %q, want 200 rev=hello-00001", host, code, body)
	}

	// Deleting the first mapping: the host no longer routes to default/hello, and
	// the other namespace's mapping takes the claim (and fails on its own ref).
	c2.Delete("dm.yaml")
	waitFor(t, "the claim handed over", func() bool {
		d, _ := dmStatus(c2, "other", host)
		return d.Reason == "ResolveFailed"
	})
	if _, ok := dmStatus(c2, "default", host); ok {
		t.Error("the deleted mapping is still listed")
	}
	if code, _ := serve(c2.Handler(), host); code != http.StatusNotFound {
		t.Errorf("GET Host %s after the mapping is deleted = %d, want 404", host, code)
	}
	if n := store.kinds()["DomainClaim"]; n != 2 {
		t.Errorf("%d DomainClaim records, want 2 (other's claim of %s and default's of the Route's host)", n, host)
	}
}
