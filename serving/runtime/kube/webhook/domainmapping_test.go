package webhook_test

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/servekit/servekit/serving/runtime/kube/webhook"
)

func dmRequest(op admissionv1.Operation, obj, old []byte) *admissionv1.AdmissionRequest {
	r := request("DomainMapping", op, "alice", obj, old)
	r.Kind.Version = "v1beta1"
	return r
}

// TestDomainMappingAdmission: the webhooks default a DomainMapping's
// spec.ref.namespace and its creator annotations, and refuse a bad host name and a
// ref to another namespace with Knative's messages.
func TestDomainMappingAdmission(t *testing.T) {
	h := &webhook.Handler{}
	dm := func(name, refNS string) []byte {
		ns := ""
		if refNS != "" {
			ns = `,"namespace":"` + refNS + `"`
		}
		return []byte(`{"apiVersion":"serving.knative.dev/v1beta1","kind":"DomainMapping","metadata":{"name":"` + name +
			`","namespace":"default"},"spec":{"ref":{"apiVersion":"serving.knative.dev/v1","kind":"Service","name":"hello"` + ns + `}}}`)
	}
	good := dm("hello.example.com", "")
	defaulted := applyPatch(t, good, h.Default(dmRequest(admissionv1.Create, good, nil)))
	if got := field(t, defaulted, "spec", "ref", "namespace"); got != "default" {
		t.Errorf("spec.ref.namespace after defaulting = %v, want default", got)
	}
	if got := field(t, defaulted, "metadata", "annotations", "serving.knative.dev/creator"); got != "alice" {
		t.Errorf("creator after defaulting = %v, want alice", got)
	}
	for _, c := range []struct {
		name    string
		req     *admissionv1.AdmissionRequest
		wantMsg string // "" means allowed
	}{
		{"valid", dmRequest(admissionv1.Create, defaulted, nil), ""},
		{"update", dmRequest(admissionv1.Update, defaulted, defaulted), ""},
		{"one label", dmRequest(admissionv1.Create, dm("hello", ""), nil),
			`validation failed: invalid name "hello": name: Invalid value: "hello": should be a domain with at least two segments separated by dots: metadata.name`},
		{"cluster local", dmRequest(admissionv1.Create, dm("hello.default.svc.cluster.local", ""), nil),
			`validation failed: invalid name "hello.default.svc.cluster.local": must not be a subdomain of cluster local domain "cluster.local": metadata.name`},
		{"other namespace", dmRequest(admissionv1.Update, dm("hello.example.com", "other"), defaulted),
			`validation failed: mismatched namespaces; parent namespace: "default" does not match ref: "other": spec.ref.namespace`},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := h.Validate(c.req)
			switch {
			case c.wantMsg == "" && !resp.Allowed:
				t.Errorf("refused: %v", resp.Result)
			case c.wantMsg != "" && resp.Allowed:
				t.Errorf("allowed, want %q", c.wantMsg)
			case c.wantMsg != "" && resp.Result.Message != c.wantMsg:
				t.Errorf("message %q, want %q", resp.Result.Message, c.wantMsg)
			}
		})
	}
}
