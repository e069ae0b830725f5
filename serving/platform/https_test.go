package platform_test

import (
	"context"
	"crypto/tls"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servekit/servekit/internal/testcert"
	"github.com/servekit/servekit/serving/platform"
)

// writePair writes a certificate for hosts signed by ca as dir/tls.crt and tls.key
// (atomically, as a Secret update does) and returns its serial number.
func writePair(t *testing.T, ca *testcert.CA, dir string, hosts ...string) *big.Int {
	t.Helper()
	crt, key, serial, err := ca.Issue(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"tls.crt": crt, "tls.key": key} {
		tmp := filepath.Join(dir, "."+name)
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return serial
}

// TestHTTPS: with TLSListen and a certificates directory, the platform serves its
// ingress over TLS too (HTTP/2 by ALPN; an unknown host gets the ingress's 404), the
// plain ingress stays, and a renewed certificate is served while it runs.
func TestHTTPS(t *testing.T) {
	ca, err := testcert.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	host := "nope.default.example.com"
	first := writePair(t, ca, filepath.Join(dir, host), host)
	p, err := platform.New(platform.Options{Manifests: t.TempDir(), Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
		TLSListen: "127.0.0.1:0", TLSDir: dir, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if p.Certificates().Certificate(host) == nil {
		t.Errorf("Certificates().Certificate(%s) = nil", host)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	get := func() (*http.Response, string) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: host}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, "https://"+p.HTTPSAddr().String()+"/", nil)
		req.Host = host
		resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, body := get()
	if resp.StatusCode != http.StatusNotFound || resp.Proto != "HTTP/2.0" || !strings.Contains(body, "no route for host") {
		t.Errorf("HTTPS GET of an unknown host: %s %s %q, want the ingress's 404 over HTTP/2.0", resp.Proto, resp.Status, body)
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber; got.Cmp(first) != 0 {
		t.Errorf("served certificate %v, want %v", got, first)
	}
	plain, err := http.Get("http://" + p.IngressAddr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	plain.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if plain.StatusCode != http.StatusNotFound {
		t.Errorf("plain ingress: %s, want 404", plain.Status)
	}

	renewed := writePair(t, ca, filepath.Join(dir, host), host)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, _ := get()
		if resp.TLS.PeerCertificates[0].SerialNumber.Cmp(renewed) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate is not served after 20s")
		}
		time.Sleep(20 * time.Millisecond) // poll interval of an observed condition
	}
}

// TestHTTPSErrors: HTTPS options that do not go together, and a certificate that
// does not load, are New's errors, naming the option or the file.
func TestHTTPSErrors(t *testing.T) {
	ca, err := testcert.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writePair(t, ca, filepath.Join(dir, "default"), "default.test")
	crt, key := filepath.Join(dir, "default", "tls.crt"), filepath.Join(dir, "default", "tls.key")
	bad := filepath.Join(dir, "bad.crt")
	if err := os.WriteFile(bad, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func() platform.Options {
		return platform.Options{Manifests: t.TempDir(), Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", TLSListen: "127.0.0.1:0"}
	}
	for _, tc := range []struct {
		name string
		set  func(*platform.Options)
		want string
	}{
		{"no certificate", func(*platform.Options) {}, "Options.TLSListen: HTTPS needs a certificate"},
		{"certificate without listener", func(o *platform.Options) { o.TLSListen, o.TLSCertFile, o.TLSKeyFile = "", crt, key }, "without an HTTPS listener"},
		{"bad certificate", func(o *platform.Options) { o.TLSCertFile, o.TLSKeyFile = bad, key }, bad},
		{"missing key", func(o *platform.Options) { o.TLSCertFile, o.TLSKeyFile = crt, key+".gone" }, key + ".gone"},
		{"bad listen", func(o *platform.Options) { o.TLSListen, o.TLSCertFile, o.TLSKeyFile = "nope", crt, key }, "Options.TLSListen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			tc.set(&o)
			if p, err := platform.New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, %v; want an error containing %q", p, err, tc.want)
			}
		})
	}
}
