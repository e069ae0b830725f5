package v1beta1_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

func dm(name string, ref v1beta1.KReference) *v1beta1.DomainMapping {
	return &v1beta1.DomainMapping{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       v1beta1.DomainMappingSpec{Ref: ref},
	}
}

var ksvc = v1beta1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "hello"}

// TestValidate: Knative's paths and messages for every rule of a DomainMapping.
func TestValidate(t *testing.T) {
	long := strings.Repeat("a", 64) + ".example.com"
	for _, tc := range []struct {
		name string
		dm   *v1beta1.DomainMapping
		want []string // "<path>: <message>"
	}{
		{"valid", dm("hello.example.com", ksvc), nil},
		{"valid route in own namespace", dm("a.b.example.org", v1beta1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Route", Name: "r", Namespace: "default"}), nil},
		{"one label", dm("hello", ksvc), []string{
			`metadata.name: invalid name "hello": name: Invalid value: "hello": should be a domain with at least two segments separated by dots`}},
		{"label over 63", dm(long, ksvc), []string{
			`metadata.name: invalid name "` + long[:64] + `...(76 bytes)": name: Invalid value: "` + long[:64] + `": must be no more than 63 characters`}},
		{"upper case", dm("Hello.example.com", ksvc), []string{
			`metadata.name: invalid name "Hello.example.com": name: Invalid value: "Hello.example.com": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"cluster local", dm("hello.default.svc.cluster.local", ksvc), []string{
			`metadata.name: invalid name "hello.default.svc.cluster.local": must not be a subdomain of cluster local domain "cluster.local"`}},
		{"empty ref", dm("hello.example.com", v1beta1.KReference{}), []string{
			"spec.ref.name: missing field(s)", "spec.ref.apiVersion: missing field(s)", "spec.ref.kind: missing field(s)"}},
		{"other namespace", dm("hello.example.com", v1beta1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "hello", Namespace: "other"}), []string{
			`spec.ref.namespace: mismatched namespaces; parent namespace: "default" does not match ref: "other"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.dm.SetDefaults(v1.StockDefaults())
			var got []string
			for _, e := range tc.dm.Validate(v1.StockDefaults()) {
				got = append(got, e.Field+": "+v1.Message(e))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
	g := dm("hello.example.com", ksvc)
	g.GenerateName = "x-"
	if errs := g.Validate(v1.StockDefaults()); len(errs) != 1 || errs[0].Field != "metadata.generateName" || v1.Message(errs[0]) != "must not set the field(s)" {
		t.Errorf("generateName: %v, want metadata.generateName: must not set the field(s)", errs)
	}
}

// TestSetDefaults: an empty spec.ref.namespace becomes the DomainMapping's.
func TestSetDefaults(t *testing.T) {
	d := dm("hello.example.com", ksvc)
	d.Namespace = "team"
	d.SetDefaults(v1.StockDefaults())
	if d.Spec.Ref.Namespace != "team" {
		t.Errorf("spec.ref.namespace = %q, want team", d.Spec.Ref.Namespace)
	}
}

// TestDecode: v1.Decode with NewObject reads a DomainMapping beside v1 kinds;
// without it the document is an unsupported apiVersion.
func TestDecode(t *testing.T) {
	const doc = `apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata:
  name: hello.example.com
  namespace: default
spec:
  ref:
    apiVersion: serving.knative.dev/v1
    kind: Service
    name: hello
  tls:
    secretName: hello-tls
`
	docs, err := v1.Decode(strings.NewReader(doc), v1.DecodeOptions{Strict: true, Extra: v1beta1.NewObject})
	if err != nil || len(docs) != 1 {
		t.Fatalf("Decode = %v, %v", docs, err)
	}
	got, ok := docs[0].Object.(*v1beta1.DomainMapping)
	if !ok {
		t.Fatalf("decoded %T, want *v1beta1.DomainMapping", docs[0].Object)
	}
	want := v1beta1.DomainMappingSpec{Ref: ksvc, TLS: &v1beta1.SecretTLS{SecretName: "hello-tls"}}
	if diff := cmp.Diff(want, got.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if _, err := v1.Decode(strings.NewReader(doc+"  extra: 1\n"), v1.DecodeOptions{Strict: true, Extra: v1beta1.NewObject}); err == nil || !strings.Contains(err.Error(), "spec.extra") {
		t.Errorf("strict decode of an unknown field: %v, want an error naming spec.extra", err)
	}
	if _, err := v1.Decode(strings.NewReader(doc), v1.DecodeOptions{Strict: true}); err == nil || !strings.Contains(err.Error(), `unsupported apiVersion "serving.knative.dev/v1beta1"`) {
		t.Errorf("Decode without Extra: %v, want unsupported apiVersion", err)
	}
}

// TestConditions: Ready follows the four conditions, and a claim held elsewhere
// makes it False with Knative's reason and message.
func TestConditions(t *testing.T) {
	now := metav1.Now().Time
	var s v1beta1.DomainMappingStatus
	s.InitializeConditions(now)
	if c := s.GetCondition(v1beta1.DomainMappingConditionReady); c == nil || !c.IsUnknown() {
		t.Fatalf("Ready after InitializeConditions = %+v, want Unknown", c)
	}
	s.MarkDomainClaimed(now)
	s.MarkReferenceResolved(now)
	s.MarkTLSNotEnabled(now, v1beta1.MessageAutoTLSNotEnabled)
	if c := s.GetCondition(v1beta1.DomainMappingConditionReady); !c.IsUnknown() {
		t.Errorf("Ready before IngressReady = %+v, want Unknown", c)
	}
	s.MarkIngressReady(now)
	if c := s.GetCondition(v1beta1.DomainMappingConditionReady); !c.IsTrue() {
		t.Errorf("Ready with all four True = %+v, want True", c)
	}
	s.MarkDomainClaimNotOwned(now)
	c := s.GetCondition(v1beta1.DomainMappingConditionReady)
	if !c.IsFalse() || c.Reason != "DomainAlreadyClaimed" || c.Message != "The domain name is already in use by another DomainMapping" {
		t.Errorf("Ready after MarkDomainClaimNotOwned = %+v", c)
	}
	if cp := s.GetCondition(v1beta1.DomainMappingConditionCertificateProvisioned); !cp.IsTrue() || cp.Reason != "TLSNotEnabled" || cp.Message != "autoTLS is not enabled" {
		t.Errorf("CertificateProvisioned = %+v", cp)
	}
}
