package controller_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

// fakeCerts is a controller.DomainCertificates whose answers the test sets.
type fakeCerts struct {
	mu      sync.Mutex
	status  map[string]controller.CertificateStatus // by host; missing: not Ready, reason NoCert
	domains []controller.DomainTLS                  // the last SetDomains
}

func (f *fakeCerts) DomainCertificate(d controller.DomainTLS) controller.CertificateStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.status[d.Host]; ok {
		return st
	}
	return controller.CertificateStatus{Reason: "NoCert", Message: "no certificate for " + d.Host}
}

func (f *fakeCerts) SetDomains(ds []controller.DomainTLS) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.domains = slices.Clone(ds)
}

func (f *fakeCerts) set(host string, st controller.CertificateStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[host] = st
}

// certState is what a DomainMapping's status says of its certificate.
type certState struct {
	URL, Status, Reason, Message string
	Ready                        bool
}

// dmCert returns the certificate state of the DomainMapping namespace/host.
func dmCert(c *controller.Controller, namespace, host string) certState {
	for _, dm := range c.Objects().DomainMappings {
		if dm.Namespace == namespace && dm.Name == host {
			cond := dm.Status.GetCondition(v1beta1.DomainMappingConditionCertificateProvisioned)
			if cond == nil {
				return certState{URL: dm.Status.URL}
			}
			return certState{URL: dm.Status.URL, Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message, Ready: dm.IsReady()}
		}
	}
	return certState{}
}

func withTLS(dm *v1beta1.DomainMapping, secret string) *v1beta1.DomainMapping {
	dm.Spec.TLS = &v1beta1.SecretTLS{SecretName: secret}
	return dm
}

// TestDomainMappingCertificates: a DomainMapping's URL and CertificateProvisioned
// follow spec.tls and what the HTTPS ingress's certificates say of its host, and
// change when CertificatesChanged reports a change; without HTTPS (no
// Certificates) a mapping without spec.tls is http and TLSNotEnabled, one with it
// https and HTTPSNotEnabled.
func TestDomainMappingCertificates(t *testing.T) {
	const (
		plain  = "plain.example.com"  // no spec.tls, no certificate
		filed  = "filed.example.com"  // no spec.tls, a certificate
		byo    = "byo.example.com"    // spec.tls, certificate there
		absent = "absent.example.com" // spec.tls, Secret missing
		wait   = "wait.example.com"   // spec.tls, not read yet
	)
	mappings := []v1.Object{
		testService("hello", "img:v1"),
		testDomainMapping("", plain, "Service", "hello"),
		testDomainMapping("", filed, "Service", "hello"),
		withTLS(testDomainMapping("", byo, "Service", "hello"), "byo-tls"),
		withTLS(testDomainMapping("", absent, "Service", "hello"), "absent-tls"),
		withTLS(testDomainMapping("", wait, "Service", "hello"), "wait-tls"),
		// Another namespace's mapping of a held host: not asked about.
		withTLS(testDomainMapping("other", byo, "Service", "hello"), "other-tls"),
	}

	t.Run("without HTTPS", func(t *testing.T) {
		c, err := controller.New(controller.Options{Backend: newFakeBackend()})
		if err != nil {
			t.Fatal(err)
		}
		run(t, c)
		if err := c.Apply("all.yaml", mappings); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the plain mapping Ready", func() bool { return dmCert(c, "default", plain).Ready })
		for host, want := range map[string]certState{
			plain: {URL: "http://" + plain, Status: "True", Reason: "TLSNotEnabled", Message: "autoTLS is not enabled", Ready: true},
			byo: {URL: "https://" + byo, Status: "False", Reason: "HTTPSNotEnabled",
				Message: `spec.tls.secretName "byo-tls": the platform serves no HTTPS ingress`},
		} {
			if diff := cmp.Diff(want, dmCert(c, "default", host)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", host, diff)
			}
		}
	})

	t.Run("with HTTPS", func(t *testing.T) {
		certs := &fakeCerts{status: map[string]controller.CertificateStatus{
			filed:  {Ready: true},
			byo:    {Ready: true},
			absent: {Reason: "SecretNotFound", Message: "Secret default/absent-tls not found"},
			wait:   {Pending: true, Message: "Secret default/wait-tls has not been read yet."},
		}}
		c, err := controller.New(controller.Options{Backend: newFakeBackend(), Certificates: certs})
		if err != nil {
			t.Fatal(err)
		}
		run(t, c)
		if err := c.Apply("all.yaml", mappings); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the plain mapping Ready", func() bool { return dmCert(c, "default", plain).Ready })
		want := map[string]certState{
			plain:  {URL: "http://" + plain, Status: "True", Reason: "TLSNotEnabled", Message: "autoTLS is not enabled", Ready: true},
			filed:  {URL: "https://" + filed, Status: "True", Ready: true},
			byo:    {URL: "https://" + byo, Status: "True", Ready: true},
			absent: {URL: "https://" + absent, Status: "False", Reason: "SecretNotFound", Message: "Secret default/absent-tls not found"},
			wait:   {URL: "https://" + wait, Status: "Unknown", Reason: "CertificateNotReady", Message: "Secret default/wait-tls has not been read yet."},
		}
		for host, w := range want {
			if diff := cmp.Diff(w, dmCert(c, "default", host)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", host, diff)
			}
		}
		// The other namespace's mapping does not hold its host: its certificate
		// is not looked for.
		if got := dmCert(c, "other", byo); got.Status != "Unknown" || got.URL != "https://"+byo {
			t.Errorf("the refused mapping's certificate: %+v, want Unknown and https", got)
		}
		certs.mu.Lock()
		wantDomains := []controller.DomainTLS{
			{Namespace: "default", Host: absent, SecretName: "absent-tls"},
			{Namespace: "default", Host: byo, SecretName: "byo-tls"},
			{Namespace: "default", Host: filed},
			{Namespace: "default", Host: plain},
			{Namespace: "default", Host: wait, SecretName: "wait-tls"},
		}
		if diff := cmp.Diff(wantDomains, certs.domains); diff != "" {
			t.Errorf("SetDomains (-want +got):\n%s", diff)
		}
		certs.mu.Unlock()

		// The Secret appears, a file certificate goes: the statuses follow once
		// told.
		certs.set(absent, controller.CertificateStatus{Ready: true})
		certs.set(filed, controller.CertificateStatus{Reason: "CertificateMissing"})
		c.CertificatesChanged()
		waitFor(t, "the appeared Secret's mapping Ready", func() bool { return dmCert(c, "default", absent).Ready })
		if got := dmCert(c, "default", filed); got.URL != "http://"+filed || got.Reason != "TLSNotEnabled" || !got.Ready {
			t.Errorf("a mapping without spec.tls whose certificate went: %+v, want http, TLSNotEnabled, Ready", got)
		}
	})
}
