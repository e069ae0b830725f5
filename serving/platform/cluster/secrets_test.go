package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/servekit/servekit/internal/testcert"
	"github.com/servekit/servekit/serving/controller"
)

// fakeSecrets is an API server's Secrets, read by name, counting the reads.
type fakeSecrets struct {
	mu      sync.Mutex
	secrets map[string]*corev1.Secret // by namespace/name
	reads   map[string]int
	fail    error // returned by every read while set
}

func (f *fakeSecrets) get(_ context.Context, namespace, name string) (*corev1.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads[namespace+"/"+name]++
	if f.fail != nil {
		return nil, f.fail
	}
	s, ok := f.secrets[namespace+"/"+name]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
	}
	return s.DeepCopy(), nil
}

func (f *fakeSecrets) put(namespace, name, version string, typ corev1.SecretType, crt, key []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[namespace+"/"+name] = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, ResourceVersion: version},
		Type:       typ, Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}
}

func (f *fakeSecrets) readsOf(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads[key]
}

// TestSecretCertificates steps the Secret source through what a cluster does:
// a mapping names a Secret that does not exist (SecretNotFound, naming it), then
// it appears (Ready, served for the host, the controller told), is not a TLS
// Secret, holds a certificate for another host, or cannot be read for a while
// (what was read is kept); a mapping that no longer names it stops its reads
// and its host's certificate. Only the named Secrets are read, each by name.
func TestSecretCertificates(t *testing.T) {
	ca, err := testcert.NewCA("servekit test CA")
	if err != nil {
		t.Fatal(err)
	}
	crt, key, serial, err := ca.Issue("byo.example.com")
	if err != nil {
		t.Fatal(err)
	}
	otherCrt, otherKey, _, err := ca.Issue("shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	api := &fakeSecrets{secrets: map[string]*corev1.Secret{}, reads: map[string]int{}}
	api.put("default", "unrelated", "1", corev1.SecretTypeTLS, crt, key)
	s := newSecretCertificates(api.get, time.Hour, nil)
	changes := 0
	s.changed = func() { changes++ }
	ctx := context.Background()
	byo := controller.DomainTLS{Namespace: "default", Host: "byo.example.com", SecretName: "byo-tls"}
	plain := controller.DomainTLS{Namespace: "default", Host: "plain.example.com"}

	status := func() controller.CertificateStatus { return s.DomainCertificate(byo) }
	s.SetDomains([]controller.DomainTLS{byo, plain})
	if diff := cmp.Diff(controller.CertificateStatus{Pending: true, Message: "Secret default/byo-tls has not been read yet."}, status()); diff != "" {
		t.Errorf("before a read (-want +got):\n%s", diff)
	}
	select {
	case <-s.wake:
	default:
		t.Errorf("a newly named Secret does not wake the reader")
	}

	steps := []struct {
		name        string
		setup       func()
		want        controller.CertificateStatus
		served      bool
		wantChanges int
	}{
		{"missing", func() {}, controller.CertificateStatus{Reason: "SecretNotFound", Message: "Secret default/byo-tls not found"}, false, 1},
		{"still missing", func() {}, controller.CertificateStatus{Reason: "SecretNotFound", Message: "Secret default/byo-tls not found"}, false, 1},
		{"appears", func() { api.put("default", "byo-tls", "2", corev1.SecretTypeTLS, crt, key) },
			controller.CertificateStatus{Ready: true}, true, 2},
		{"cannot be read: kept", func() { api.fail = errors.New("connection refused") },
			controller.CertificateStatus{Ready: true}, true, 2},
		{"readable again, unchanged", func() { api.fail = nil }, controller.CertificateStatus{Ready: true}, true, 2},
		{"not a TLS Secret", func() { api.put("default", "byo-tls", "3", corev1.SecretTypeOpaque, crt, key) },
			controller.CertificateStatus{Reason: "CertificateInvalid", Message: `Secret default/byo-tls is of type "Opaque", not kubernetes.io/tls`}, false, 3},
		{"another host's certificate", func() { api.put("default", "byo-tls", "4", corev1.SecretTypeTLS, otherCrt, otherKey) },
			controller.CertificateStatus{Reason: "CertificateInvalid", Message: "Secret default/byo-tls: tls.crt is not valid for byo.example.com: its names are [shop.example.com]"}, false, 4},
		{"a broken key", func() { api.put("default", "byo-tls", "5", corev1.SecretTypeTLS, crt, otherKey) },
			controller.CertificateStatus{Reason: "CertificateInvalid", Message: "Secret default/byo-tls: tls.key: tls: private key does not match public key"}, false, 5},
		{"fixed", func() { api.put("default", "byo-tls", "6", corev1.SecretTypeTLS, crt, key) },
			controller.CertificateStatus{Ready: true}, true, 6},
		{"forbidden", func() {
			api.fail = apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "byo-tls", errors.New("RBAC"))
		}, controller.CertificateStatus{Reason: "SecretForbidden", Message: "Secret default/byo-tls: the controller may not read Secrets in namespace default: " +
			"bind the ClusterRole servekit-domainmapping-secrets to its service account there (a RoleBinding)"}, false, 7},
		{"allowed again", func() { api.fail = nil }, controller.CertificateStatus{Ready: true}, true, 8},
	}
	for _, st := range steps {
		st.setup()
		s.readAll(ctx)
		if diff := cmp.Diff(st.want, status()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.name, diff)
		}
		got := s.Certificate("BYO.example.com.")
		if st.served != (got != nil) || (got != nil && got.Leaf.SerialNumber.Cmp(serial) != 0) {
			t.Errorf("%s: served %v, want served %v", st.name, got != nil, st.served)
		}
		if changes != st.wantChanges {
			t.Errorf("%s: the controller told %d times in all, want %d", st.name, changes, st.wantChanges)
		}
	}
	if n := api.readsOf("default/unrelated"); n != 0 {
		t.Errorf("a Secret no mapping names was read %d times", n)
	}
	// Without spec.tls: the files decide (none here).
	if got := s.DomainCertificate(plain); got.Ready || got.Reason != "CertificateMissing" {
		t.Errorf("a mapping without spec.tls and no files = %+v, want not Ready, CertificateMissing", got)
	}

	// The mapping no longer names the Secret: no more reads, no certificate.
	s.SetDomains([]controller.DomainTLS{plain})
	before := api.readsOf("default/byo-tls")
	s.readAll(ctx)
	if n := api.readsOf("default/byo-tls"); n != before {
		t.Errorf("a Secret no longer named was read again")
	}
	if s.Certificate("byo.example.com") != nil {
		t.Errorf("the certificate of a Secret no longer named is still served")
	}
	if changes != 9 {
		t.Errorf("the controller told %d times in all, want 9", changes)
	}
}
