package webhook_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/servekit/servekit/serving/runtime/kube/webhook"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func pemCerts(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

// writes counts the create and update calls a fake clientset saw.
func writes(cs *fake.Clientset) int {
	n := 0
	for _, a := range cs.Actions() {
		if a.GetVerb() == "create" || a.GetVerb() == "update" {
			n++
		}
	}
	return n
}

func newServer(t *testing.T, cs *fake.Clientset, clk *clocktesting.FakeClock, o webhook.Options) *webhook.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	o.Client, o.Listener, o.Clock = cs, ln, clk
	if o.Namespace == "" {
		o.Namespace = "servekit"
	}
	if o.URL == "" && o.Service == "" {
		o.URL = "https://" + ln.Addr().String()
	}
	s, err := webhook.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSyncRotatesBeforeExpiry(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	clk := clocktesting.NewFakeClock(epoch)
	s := newServer(t, cs, clk, webhook.Options{Service: "servekit-webhook"})

	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	sec, err := cs.CoreV1().Secrets("servekit").Get(ctx, webhook.DefaultSecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cas := pemCerts(t, sec.Data[webhook.CACertKey])
	leaf := pemCerts(t, sec.Data[webhook.ServerCertKey])[0]
	if len(cas) != 1 || !leaf.NotAfter.Equal(epoch.Add(webhook.DefaultValidity).Truncate(time.Second)) {
		t.Fatalf("first certificate: %d CAs, notAfter %s; want 1, %s", len(cas), leaf.NotAfter, epoch.Add(webhook.DefaultValidity))
	}
	if err := leaf.VerifyHostname("servekit-webhook.servekit.svc"); err != nil {
		t.Error(err)
	}
	m, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhook.MutatingName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := m.Webhooks[0].ClientConfig.Service
	if ref == nil || ref.Name != "servekit-webhook" || ref.Namespace != "servekit" || *ref.Path != webhook.DefaultingPath || *ref.Port != 443 {
		t.Errorf("mutating clientConfig.service = %+v", ref)
	}

	// Unchanged: nothing is written again.
	before := writes(cs)
	clk.Step(time.Hour)
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := writes(cs) - before; n != 0 {
		t.Errorf("a sync with nothing to do wrote %d times", n)
	}

	// Less than RotateBefore left: a new CA and certificate; the bundle keeps
	// the old CA, so a replica still serving the old certificate stays trusted.
	clk.SetTime(epoch.Add(webhook.DefaultValidity - webhook.DefaultRotateBefore + time.Minute))
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	sec2, err := cs.CoreV1().Secrets("servekit").Get(ctx, webhook.DefaultSecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cas2 := pemCerts(t, sec2.Data[webhook.CACertKey])
	leaf2 := pemCerts(t, sec2.Data[webhook.ServerCertKey])[0]
	if len(cas2) != 2 || !cas2[1].Equal(cas[0]) || !leaf2.NotAfter.After(leaf.NotAfter) {
		t.Errorf("after rotation: %d CAs (old kept: %v), notAfter %s; want 2, true, after %s",
			len(cas2), len(cas2) == 2 && cas2[1].Equal(cas[0]), leaf2.NotAfter, leaf.NotAfter)
	}
	v, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, webhook.ValidatingName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Webhooks[0].ClientConfig.CABundle) != string(sec2.Data[webhook.CACertKey]) {
		t.Error("the validating configuration's caBundle is not the rotated bundle")
	}

	// A Secret someone broke is replaced.
	broken := sec2.DeepCopy()
	delete(broken.Data, webhook.ServerKeyKey)
	if _, err := cs.CoreV1().Secrets("servekit").Update(ctx, broken, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fixed, _ := cs.CoreV1().Secrets("servekit").Get(ctx, webhook.DefaultSecretName, metav1.GetOptions{})
	if len(fixed.Data[webhook.ServerKeyKey]) == 0 {
		t.Error("a Secret without its key was not replaced")
	}
}

func TestSyncErrorsNameTheObject(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "servekit-webhook-certs", nil)
	})
	s := newServer(t, cs, clocktesting.NewFakeClock(epoch), webhook.Options{})
	err := s.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "webhook: Secret servekit/servekit-webhook-certs: ") {
		t.Errorf("Sync = %v, want an error naming the Secret", err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cs := fake.NewClientset()
	for _, c := range []struct {
		o    webhook.Options
		want string
	}{
		{webhook.Options{Listener: ln, Namespace: "n", URL: "https://a:1"}, "Options.Client: required"},
		{webhook.Options{Client: cs, Namespace: "n", URL: "https://a:1"}, "Options.Listener: required"},
		{webhook.Options{Client: cs, Listener: ln, URL: "https://a:1"}, "Options.Namespace: required"},
		{webhook.Options{Client: cs, Listener: ln, Namespace: "n"}, "Options.Service, Options.URL: exactly one"},
		{webhook.Options{Client: cs, Listener: ln, Namespace: "n", URL: "https://a:1", Service: "s"}, "Options.Service, Options.URL: exactly one"},
		{webhook.Options{Client: cs, Listener: ln, Namespace: "n", URL: "http://a:1"}, `Options.URL: "http://a:1": want https://HOST:PORT`},
		{webhook.Options{Client: cs, Listener: ln, Namespace: "n", URL: "https://:8443"}, `Options.URL: "https://:8443": want https://HOST:PORT`},
		{webhook.Options{Client: cs, Listener: ln, Namespace: "n", URL: "https://a:1", Validity: time.Hour, RotateBefore: time.Hour}, "Options.RotateBefore (1h0m0s) must be less than Options.Validity (1h0m0s)"},
	} {
		if _, err := webhook.New(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want %q", c.o, err, c.want)
		}
	}
}

// TestRunServesTLS: Run serves the webhooks with the Secret's certificate, which
// verifies against the registered CA bundle, and returns on cancellation.
func TestRunServesTLS(t *testing.T) {
	cs := fake.NewClientset()
	s := newServer(t, cs, clocktesting.NewFakeClock(time.Now()), webhook.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	var url string
	var pool *x509.CertPool
	deadline := time.Now().Add(30 * time.Second)
	for pool == nil {
		v, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, webhook.ValidatingName, metav1.GetOptions{})
		if err == nil {
			pool = x509.NewCertPool()
			pool.AppendCertsFromPEM(v.Webhooks[0].ClientConfig.CABundle)
			url = *v.Webhooks[0].ClientConfig.URL
		} else if time.Now().After(deadline) {
			t.Fatal("no ValidatingWebhookConfiguration after 30s")
		} else {
			time.Sleep(20 * time.Millisecond) // poll interval of an observed condition
		}
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	var resp *http.Response
	var err error
	for {
		resp, err = (&http.Client{Transport: tr}).Post(url, "application/json", strings.NewReader(`{}`))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // Run starts serving right after the configurations
	}
	if err != nil {
		t.Fatalf("POST %s with the registered CA: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST {} = %d, want 400 (not an AdmissionReview)", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancellation", err)
	}
}
