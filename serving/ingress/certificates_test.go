package ingress_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/servekit/servekit/internal/testcert"
	"github.com/servekit/servekit/serving/ingress"
)

// certDir is a certificates directory under test, with its CA.
type certDir struct {
	t   *testing.T
	ca  *testcert.CA
	dir string
}

func newCertDir(t *testing.T) *certDir {
	t.Helper()
	ca, err := testcert.NewCA("servekit test CA")
	if err != nil {
		t.Fatal(err)
	}
	return &certDir{t: t, ca: ca, dir: t.TempDir()}
}

// put writes a certificate for hosts as dir/sub/tls.crt and tls.key ("" sub: dir
// itself) and returns its serial number.
func (d *certDir) put(sub string, hosts ...string) *big.Int {
	d.t.Helper()
	crt, key, serial, err := d.ca.Issue(hosts...)
	if err != nil {
		d.t.Fatal(err)
	}
	dir := filepath.Join(d.dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		d.t.Fatal(err)
	}
	d.write(filepath.Join(dir, ingress.CertFileName), crt)
	d.write(filepath.Join(dir, ingress.KeyFileName), key)
	return serial
}

func (d *certDir) write(path string, data []byte) {
	d.t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// served returns the serial number of the certificate a TLS handshake with
// serverName gets from a listener of c, or the handshake's error.
func served(t *testing.T, c *ingress.Certificates, ca *testcert.CA, serverName string, maxVersion uint16) (*big.Int, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", c.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_ = conn.(*tls.Conn).Handshake()
	})
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(),
		&tls.Config{RootCAs: ca.Pool(), ServerName: serverName, MaxVersion: maxVersion})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// TestCertificatesSNI: a handshake gets its server name's certificate, a wildcard's
// for a host it covers (one label), and the default one otherwise; without a
// default, an unknown name fails the handshake. TLS 1.1 is refused.
func TestCertificatesSNI(t *testing.T) {
	defer goleak.VerifyNone(t)
	d := newCertDir(t)
	def := d.put("default", "default.test")
	shop := d.put("certs/shop.example.com", "shop.example.com")
	wild := d.put("certs/*.example.com", "*.example.com")
	other := d.put("certs/api.other.test", "api.other.test")
	c, err := ingress.NewCertificates(ingress.CertificatesOptions{
		CertFile: filepath.Join(d.dir, "default", "tls.crt"), KeyFile: filepath.Join(d.dir, "default", "tls.key"),
		Dir: filepath.Join(d.dir, "certs"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(c.Hosts(), ","), "*.example.com,api.other.test,shop.example.com"; got != want {
		t.Errorf("Hosts() = %s, want %s", got, want)
	}
	for _, tc := range []struct {
		name string
		want *big.Int
	}{
		{"shop.example.com", shop},
		{"blog.example.com", wild},
		{"api.other.test", other},
		{"unknown.test", def},
		{"a.b.example.com", def}, // a wildcard covers one label only
	} {
		// The default certificate is not valid for the other names: the client
		// checks the name only when the certificate is the one for it.
		name := tc.name
		if tc.want == def {
			name = "default.test"
			got := c.Certificate(tc.name)
			if got != nil {
				t.Errorf("Certificate(%q) = %v, want nil (none of its own)", tc.name, got.Leaf.DNSNames)
			}
			hello := &tls.ClientHelloInfo{ServerName: tc.name}
			if cert, err := c.GetCertificate(hello); err != nil || cert.Leaf.SerialNumber.Cmp(def) != 0 {
				t.Errorf("GetCertificate(%q) = %v, %v; want the default", tc.name, cert, err)
			}
		}
		if got, err := served(t, c, d.ca, name, 0); err != nil || got.Cmp(tc.want) != 0 {
			t.Errorf("handshake for %s: serial %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if got := c.Certificate("SHOP.Example.COM."); got == nil || got.Leaf.SerialNumber.Cmp(shop) != 0 {
		t.Errorf("Certificate(SHOP.Example.COM.) is not shop.example.com's")
	}
	if _, err := served(t, c, d.ca, "shop.example.com", tls.VersionTLS11); err == nil {
		t.Error("a TLS 1.1 handshake succeeded, want TLS 1.2 at least")
	}

	noDefault, err := ingress.NewCertificates(ingress.CertificatesOptions{Dir: filepath.Join(d.dir, "certs")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := served(t, noDefault, d.ca, "unknown.test", 0); err == nil {
		t.Error("a handshake for a name without a certificate, and no default, succeeded")
	}
}

// lockedBuffer is a log sink written by a scan and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCertificatesReload: a renewed certificate is served after a scan, without a
// restart; a broken one is logged with its file and the one in use kept until the
// files are fixed; a new host directory is added, a removed one dropped.
func TestCertificatesReload(t *testing.T) {
	defer goleak.VerifyNone(t)
	d := newCertDir(t)
	first := d.put("shop.example.com", "shop.example.com")
	var logs lockedBuffer
	c, err := ingress.NewCertificates(ingress.CertificatesOptions{Dir: d.dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	serial := func(host string) *big.Int {
		t.Helper()
		got, err := served(t, c, d.ca, host, 0)
		if err != nil {
			t.Fatalf("handshake for %s: %v", host, err)
		}
		return got
	}
	if got := serial("shop.example.com"); got.Cmp(first) != 0 {
		t.Fatalf("served %v, want %v", got, first)
	}
	c.Scan() // nothing changed
	if got := serial("shop.example.com"); got.Cmp(first) != 0 {
		t.Fatalf("after a scan with no change: served %v, want %v", got, first)
	}

	renewed := d.put("shop.example.com", "shop.example.com")
	c.Scan()
	if got := serial("shop.example.com"); got.Cmp(renewed) != 0 {
		t.Errorf("after renewal: served %v, want the renewed %v", got, renewed)
	}

	// A key that is not the certificate's: logged with the file, the renewed
	// certificate kept.
	_, otherKey, _, err := d.ca.Issue("shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(d.dir, "shop.example.com", "tls.key")
	d.write(keyFile, otherKey)
	c.Scan()
	if got := serial("shop.example.com"); got.Cmp(renewed) != 0 {
		t.Errorf("after a bad key: served %v, want the one in use %v", got, renewed)
	}
	if !strings.Contains(logs.String(), keyFile) {
		t.Errorf("the log does not name %s:\n%s", keyFile, logs.String())
	}
	c.Scan()
	if n := strings.Count(logs.String(), "certificate not loaded"); n != 1 {
		t.Errorf("the same error logged %d times over two scans, want once:\n%s", n, logs.String())
	}
	fixed := d.put("shop.example.com", "shop.example.com")
	c.Scan()
	if got := serial("shop.example.com"); got.Cmp(fixed) != 0 {
		t.Errorf("after the fix: served %v, want %v", got, fixed)
	}

	blog := d.put("blog.example.com", "blog.example.com")
	c.Scan()
	if got := serial("blog.example.com"); got.Cmp(blog) != 0 {
		t.Errorf("a new host directory: served %v, want %v", got, blog)
	}
	if err := os.RemoveAll(filepath.Join(d.dir, "blog.example.com")); err != nil {
		t.Fatal(err)
	}
	c.Scan()
	if got := c.Certificate("blog.example.com"); got != nil {
		t.Errorf("a removed host directory's certificate is still served")
	}
}

// TestNewCertificatesErrors: every bad file is an error naming it.
func TestNewCertificatesErrors(t *testing.T) {
	d := newCertDir(t)
	d.put("good", "good.test")
	crt, key := filepath.Join(d.dir, "good", "tls.crt"), filepath.Join(d.dir, "good", "tls.key")
	_, otherKey, _, err := d.ca.Issue("good.test")
	if err != nil {
		t.Fatal(err)
	}
	d.put("mismatch", "good.test")
	d.write(filepath.Join(d.dir, "mismatch", "tls.key"), otherKey)
	d.put("garbage", "good.test")
	d.write(filepath.Join(d.dir, "garbage", "tls.crt"), []byte("not a certificate\n"))
	wrongHost := t.TempDir()
	d.dir = wrongHost
	d.put("shop.example.com", "blog.example.com")
	badName := t.TempDir()
	d.dir = badName
	d.put("Shop_Example", "shop.example.com")
	missingKey := t.TempDir()
	d.dir = missingKey
	d.put("shop.example.com", "shop.example.com")
	if err := os.Remove(filepath.Join(missingKey, "shop.example.com", "tls.key")); err != nil {
		t.Fatal(err)
	}
	base := filepath.Dir(crt)
	for _, tc := range []struct {
		name string
		o    ingress.CertificatesOptions
		want string // in the error
	}{
		{"nothing", ingress.CertificatesOptions{}, "is required"},
		{"cert without key", ingress.CertificatesOptions{CertFile: crt}, "CertFile and KeyFile"},
		{"missing cert", ingress.CertificatesOptions{CertFile: crt + ".x", KeyFile: key}, crt + ".x: no such file"},
		{"missing key", ingress.CertificatesOptions{CertFile: crt, KeyFile: key + ".x"}, key + ".x: no such file"},
		{"not PEM", ingress.CertificatesOptions{CertFile: filepath.Join(base, "..", "garbage", "tls.crt"), KeyFile: key},
			filepath.Join(base, "..", "garbage", "tls.crt") + ": no PEM CERTIFICATE"},
		{"key of another", ingress.CertificatesOptions{CertFile: crt, KeyFile: filepath.Join(base, "..", "mismatch", "tls.key")},
			"key " + filepath.Join(base, "..", "mismatch", "tls.key")},
		{"a directory, not a file", ingress.CertificatesOptions{CertFile: base, KeyFile: key}, base},
		{"wrong host", ingress.CertificatesOptions{Dir: wrongHost},
			filepath.Join(wrongHost, "shop.example.com", "tls.crt") + " is not valid for shop.example.com"},
		{"bad directory name", ingress.CertificatesOptions{Dir: badName}, `"Shop_Example" is not a lower-case host name`},
		{"missing key in dir", ingress.CertificatesOptions{Dir: missingKey}, filepath.Join(missingKey, "shop.example.com", "tls.key")},
		{"missing dir", ingress.CertificatesOptions{Dir: filepath.Join(badName, "nope")}, filepath.Join(badName, "nope")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ingress.NewCertificates(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewCertificates = %v, %v; want an error containing %q", c, err, tc.want)
			}
		})
	}
}

// serveHTTPS serves h over TLS with c's certificates (HTTP/1.1 and HTTP/2, as
// the platform's HTTPS listener) until the test ends, and returns its address.
func serveHTTPS(t *testing.T, h http.Handler, c *ingress.Certificates) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: c.TLSConfig(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	return ln.Addr().String()
}

// httpsClient trusts ca, sends server name host (as curl --resolve would to an
// address) and speaks HTTP/2 when h2, else HTTP/1.1.
func httpsClient(t *testing.T, ca *testcert.CA, host string, h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: host}}
	tr.Protocols = new(http.Protocols)
	if h2 {
		tr.Protocols.SetHTTP2(true)
	} else {
		tr.Protocols.SetHTTP1(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// TestHTTPSForwardedProto: the Ingress served over TLS forwards as over plain HTTP,
// on both paths and with both protocols, and the app sees X-Forwarded-Proto: https
// (http behind the plain listener), whatever the client claimed: the ingress sets
// it from the connection, as Knative's ingresses (Envoy at the edge) do.
func TestHTTPSForwardedProto(t *testing.T) {
	d := newCertDir(t)
	d.put("hello.default.example.com", "hello.default.example.com")
	certs, err := ingress.NewCertificates(ingress.CertificatesOptions{Dir: d.dir})
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto=%s forwarded=%q", r.Header.Get("X-Forwarded-Proto"), r.Header.Get("Forwarded"))
	})
	for _, inPath := range []bool{false, true} {
		in := stackIngress(t, app, inPath, nil, nil)
		plain := httptest.NewServer(in)
		t.Cleanup(plain.Close)
		https := serveHTTPS(t, in, certs)
		for _, tc := range []struct {
			name, url, claim, want, wantProto string
			client                            *http.Client
		}{
			{"https, HTTP/2", "https://" + https, "http", "https", "HTTP/2.0", httpsClient(t, d.ca, "hello.default.example.com", true)},
			{"https, HTTP/1.1", "https://" + https, "http", "https", "HTTP/1.1", httpsClient(t, d.ca, "hello.default.example.com", false)},
			{"plain", plain.URL, "https", "http", "HTTP/1.1", http.DefaultClient},
		} {
			req, _ := http.NewRequest(http.MethodGet, tc.url+"/", nil)
			req.Host = "hello.default.example.com"
			req.Header.Set("X-Forwarded-Proto", tc.claim)
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatalf("activator in path %v, %s: %v", inPath, tc.name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := fmt.Sprintf("proto=%s forwarded=", tc.want)
			if resp.StatusCode != http.StatusOK || resp.Proto != tc.wantProto || !strings.HasPrefix(string(b), want) ||
				!strings.Contains(string(b), "proto="+tc.want+`"`) {
				t.Errorf("activator in path %v, %s, client says %s: %s %s %q; want 200 over %s, the app seeing %s (and Forwarded proto=%s)",
					inPath, tc.name, tc.claim, resp.Proto, resp.Status, b, tc.wantProto, tc.want, tc.want)
			}
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

// mapSource is an ingress.CertificateSource of fixed certificates by host.
type mapSource map[string]*tls.Certificate

func (m mapSource) Certificate(host string) *tls.Certificate { return m[host] }

// TestCertificatesSourcesCoversOnChange: a source's certificate is served before
// the directory's and the default; Covers says which hosts the files give a
// certificate valid for them (not the sources'); OnChange is called after a scan
// that changed something, and only then.
func TestCertificatesSourcesCoversOnChange(t *testing.T) {
	d := newCertDir(t)
	d.put("shop.example.com", "shop.example.com")
	d.put("*.example.net", "*.example.net")
	defDir := t.TempDir()
	defSerial := (&certDir{t: t, ca: d.ca, dir: defDir}).put("", "default.test", "named.example.org")
	crt, key, srcSerial, err := d.ca.Issue("shop.example.com", "byo.example.com")
	if err != nil {
		t.Fatal(err)
	}
	srcCert, err := ingress.ParseCertificate(crt, key, "byo.example.com")
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	c, err := ingress.NewCertificates(ingress.CertificatesOptions{
		CertFile: filepath.Join(defDir, "tls.crt"), KeyFile: filepath.Join(defDir, "tls.key"), Dir: d.dir,
		Sources:  []ingress.CertificateSource{mapSource{"byo.example.com": srcCert, "shop.example.com": srcCert}},
		OnChange: func() { changes++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sni  string
		want *big.Int
	}{
		{"byo.example.com", srcSerial},
		{"shop.example.com", srcSerial}, // the source before the directory
		{"named.example.org", defSerial},
	} {
		got, err := served(t, c, d.ca, tc.sni, 0)
		if err != nil || got.Cmp(tc.want) != 0 {
			t.Errorf("server name %s: %v, %v; want serial %v", tc.sni, got, err, tc.want)
		}
	}
	for host, want := range map[string]bool{
		"shop.example.com":   true,  // its directory
		"a.example.net":      true,  // the wildcard's
		"named.example.org":  true,  // the default certificate names it
		"NAMED.example.org.": true,  // case and a trailing dot
		"byo.example.com":    false, // only a source has it
		"other.example.org":  false, // the default does not name it
		"a.b.example.net":    false, // one label for the wildcard
		"":                   false,
	} {
		if got := c.Covers(host); got != want {
			t.Errorf("Covers(%q) = %v, want %v", host, got, want)
		}
	}
	c.Scan()
	if changes != 0 {
		t.Errorf("OnChange called %d times by a scan that changed nothing", changes)
	}
	d.put("blog.example.com", "blog.example.com")
	c.Scan()
	if changes != 1 || !c.Covers("blog.example.com") {
		t.Errorf("after a new host directory: OnChange called %d times, Covers %v; want 1, true", changes, c.Covers("blog.example.com"))
	}

	// Sources alone, no files: their hosts are served, any other handshake fails.
	only, err := ingress.NewCertificates(ingress.CertificatesOptions{Sources: []ingress.CertificateSource{mapSource{"byo.example.com": srcCert}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := served(t, only, d.ca, "byo.example.com", 0); err != nil || got.Cmp(srcSerial) != 0 {
		t.Errorf("sources only, byo.example.com: %v, %v; want %v", got, err, srcSerial)
	}
	if _, err := served(t, only, d.ca, "shop.example.com", 0); err == nil {
		t.Errorf("sources only, a host none has: the handshake succeeded")
	}
}

// TestParseCertificate: a Secret's tls.crt and tls.key parse; each fault is named
// by its key.
func TestParseCertificate(t *testing.T) {
	ca, err := testcert.NewCA("servekit test CA")
	if err != nil {
		t.Fatal(err)
	}
	crt, key, _, err := ca.Issue("byo.example.com")
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _, err := ca.Issue("byo.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := ingress.ParseCertificate(crt, key, "byo.example.com"); err != nil || c.Leaf.DNSNames[0] != "byo.example.com" {
		t.Fatalf("ParseCertificate = %v, %v", c, err)
	}
	for _, tc := range []struct {
		name      string
		crt, key  []byte
		host      string
		wantError string
	}{
		{"no certificate", nil, key, "", "tls.crt: no PEM CERTIFICATE block in it"},
		{"not PEM", []byte("garbage"), key, "", "tls.crt: no PEM CERTIFICATE block in it"},
		{"another key", crt, otherKey, "", "tls.key: tls: private key does not match public key"},
		{"no key", crt, nil, "", "tls.key: "},
		{"another host", crt, key, "shop.example.com", "tls.crt is not valid for shop.example.com: its names are [byo.example.com]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ingress.ParseCertificate(tc.crt, tc.key, tc.host); err == nil || !strings.HasPrefix(err.Error(), tc.wantError) {
				t.Errorf("ParseCertificate = %v, want an error starting %q", err, tc.wantError)
			}
		})
	}
}
