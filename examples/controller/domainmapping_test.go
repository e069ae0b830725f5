package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servekit/servekit/internal/testcert"
	"github.com/servekit/servekit/serving/controller"
)

const dmHost = "hello.example.com"

// domainMappingYAML maps dmHost in namespace to the Service helloworld-go.
func domainMappingYAML(namespace string) string {
	return `apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata:
  name: ` + dmHost + `
  namespace: ` + namespace + `
spec:
  ref:
    apiVersion: serving.knative.dev/v1
    kind: Service
    name: helloworld-go
`
}

// domainMapping returns the DomainMapping namespace/host of st, or nil.
func domainMapping(st controller.Status, namespace, host string) *controller.DomainMappingStatus {
	for i, d := range st.DomainMappings {
		if d.Namespace == namespace && d.Name == host {
			return &st.DomainMappings[i]
		}
	}
	return nil
}

// code returns the status code and body of GET / with Host host.
func (p *proc) code(t *testing.T, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.ingress+"/", nil)
	req.Host = host
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDomainMapping runs the controller binary as a process: the seed and a
// DomainMapping hello.example.com in its manifests directory make a request with
// Host hello.example.com answer the seed's app; the same host mapped from another
// namespace is refused with DomainAlreadyClaimed in /status and `get`; both
// survive a restart on the state directory; removing the mapping's manifest stops
// the routing (404).
func TestDomainMapping(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the controller as a process, twice")
	}
	f := newStateFixture(t, "")
	// The seed's Service (helloworld-go, TARGET World), run from this binary's app
	// as the other process tests do.
	f.write(t, "helloworld-go.yaml", stateService("helloworld-go", "World", "", "", ""))
	f.write(t, "domain.yaml", domainMappingYAML("default"))
	p := f.start(t)
	p.waitStatus(t, "the mapping Ready", 90*time.Second, func(st controller.Status) bool {
		d := domainMapping(st, "default", dmHost)
		return d != nil && d.Ready
	})
	if code, body := p.code(t, dmHost); code != http.StatusOK || body != "Hello World!\n" {
		t.Fatalf("GET Host %s = %d %q, want 200 \"Hello World!\\n\"", dmHost, code, body)
	}

	f.write(t, "other.yaml", domainMappingYAML("other"))
	refused := func(st controller.Status) bool {
		d := domainMapping(st, "other", dmHost)
		return d != nil && !d.Ready && d.Reason == "DomainAlreadyClaimed" &&
			d.Message == "The domain name is already in use by another DomainMapping"
	}
	p.waitStatus(t, "the second mapping refused", 30*time.Second, refused)
	var out, errOut bytes.Buffer
	if code := runGet(t.Context(), []string{"--admin", p.admin}, &out, &errOut); code != 0 {
		t.Fatalf("get: exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"default     hello.example.com   http://hello.example.com   Service default/helloworld-go   True",
		"other       hello.example.com   http://hello.example.com   Service other/helloworld-go     False   DomainAlreadyClaimed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("get output lacks %q:\n%s", want, out.String())
		}
	}
	p.stop(t)

	// A restart on the state directory: the claim holds, the host routes.
	p = f.start(t)
	p.waitStatus(t, "both mappings back", 60*time.Second, func(st controller.Status) bool {
		d := domainMapping(st, "default", dmHost)
		return d != nil && d.Ready && refused(st)
	})
	if code, body := p.code(t, dmHost); code != http.StatusOK || body != "Hello World!\n" {
		t.Fatalf("after a restart, GET Host %s = %d %q, want 200", dmHost, code, body)
	}

	// Removing the mapping stops its routing; the other namespace's mapping then
	// claims the host but has no helloworld-go to resolve.
	f.remove(t, "domain.yaml")
	p.waitStatus(t, "the claim handed over", 30*time.Second, func(st controller.Status) bool {
		d := domainMapping(st, "other", dmHost)
		return domainMapping(st, "default", dmHost) == nil && d != nil && d.Reason == "ResolveFailed"
	})
	if code, _ := p.code(t, dmHost); code != http.StatusNotFound {
		t.Errorf("GET Host %s after the mapping is removed = %d, want 404", dmHost, code)
	}
	if code, body := p.code(t, seedHost); code != http.StatusOK || body != "Hello World!\n" {
		t.Errorf("the seed's own host = %d %q, want 200", code, body)
	}
	p.stop(t)
}

// domainMappingTLSYAML maps host in default to the Service helloworld-go, with
// spec.tls.secretName secret unless "".
func domainMappingTLSYAML(host, secret string) string {
	y := strings.Replace(domainMappingYAML("default"), "name: "+dmHost, "name: "+host, 1)
	if secret != "" {
		y += "  tls:\n    secretName: " + secret + "\n"
	}
	return y
}

// TestDomainMappingHTTPS runs the controller binary with an HTTPS ingress and a
// certificate directory: a DomainMapping whose host has a certificate there gets
// an https URL and CertificateProvisioned True, and an HTTPS request to the host
// (SNI) reaches the Service's app with that certificate; a mapping with
// spec.tls whose host has none is not Ready (CertificateMissing, naming the
// directory) until its certificate is put there, without a restart.
func TestDomainMappingHTTPS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the controller as a process")
	}
	ca, err := testcert.NewCA("servekit e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	files := &tlsFiles{ca: ca, dir: t.TempDir()}
	const later = "later.example.com"
	serial := files.put(t, filepath.Join(files.dir, dmHost), dmHost)
	f := newStateFixture(t, "")
	f.write(t, "helloworld-go.yaml", stateService("helloworld-go", "World", "", "", ""))
	f.write(t, "domain.yaml", domainMappingTLSYAML(dmHost, "hello-tls"))
	f.write(t, "later.yaml", domainMappingTLSYAML(later, "later-tls"))
	f.flags = []string{"--tls-listen", "127.0.0.1:0", "--tls-dir", files.dir}
	p := f.start(t)
	m := httpsLine.FindStringSubmatch(p.logs.String())
	if m == nil {
		t.Fatalf("no HTTPS address in the serving line:\n%s", p.logs.String())
	}
	httpsAddr := m[1]
	st := p.waitStatus(t, "the mapping Ready", 90*time.Second, func(st controller.Status) bool {
		d := domainMapping(st, "default", dmHost)
		return d != nil && d.Ready
	})
	if d := domainMapping(st, "default", dmHost); d.URL != "https://"+dmHost {
		t.Errorf("URL of a mapping with a certificate = %q, want https://%s", d.URL, dmHost)
	}
	d := domainMapping(st, "default", later)
	wantMsg := "the HTTPS ingress has no certificate for " + later + ": none in " + filepath.Join(files.dir, later, "tls.crt")
	if d == nil || d.Ready || d.Reason != "CertificateMissing" || !strings.HasPrefix(d.Message, wantMsg) || d.URL != "https://"+later {
		t.Errorf("a mapping with spec.tls and no certificate = %+v, want not Ready, CertificateMissing, %q..., https", d, wantMsg)
	}

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: dmHost}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, "https://"+httpsAddr+"/", nil)
	req.Host = dmHost
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("HTTPS GET %s: %v", dmHost, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "Hello World!\n" || resp.TLS.PeerCertificates[0].SerialNumber.Cmp(serial) != 0 {
		t.Errorf("HTTPS GET %s = %s %q with certificate %v, want 200 Hello World! with %v", dmHost, resp.Status, b, resp.TLS.PeerCertificates[0].SerialNumber, serial)
	}

	// The certificate comes: the mapping is Ready, without a restart.
	files.put(t, filepath.Join(files.dir, later), later)
	p.waitStatus(t, "the later mapping Ready", 30*time.Second, func(st controller.Status) bool {
		d := domainMapping(st, "default", later)
		return d != nil && d.Ready && d.URL == "https://"+later
	})
	p.stop(t)
}
