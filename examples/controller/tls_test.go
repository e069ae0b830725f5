package main

// HTTPS at the ingress (issue 13 item 5), through the controller binary as a
// process: --tls-listen with a default certificate (--tls-cert, --tls-key) and a
// directory of per-host ones (--tls-dir), made by a CA the test creates.

import (
	"context"
	"crypto/tls"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/servekit/servekit/internal/testcert"
)

// tlsFiles is a CA and the certificate files it signed for a test.
type tlsFiles struct {
	ca  *testcert.CA
	dir string // --tls-dir
}

// put writes a certificate for hosts as path/tls.crt and path/tls.key, each by
// an atomic rename (as a Secret's update lands), and returns its serial number.
func (f *tlsFiles) put(t *testing.T, path string, hosts ...string) *big.Int {
	t.Helper()
	crt, key, serial, err := f.ca.Issue(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"tls.crt": crt, "tls.key": key} {
		tmp := filepath.Join(path, "."+name+".tmp")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(path, name)); err != nil {
			t.Fatal(err)
		}
	}
	return serial
}

var httpsLine = regexp.MustCompile(`msg="servekit: serving" .* https=(\S+)`)

// handshake returns the serial number of the certificate the HTTPS ingress at
// addr presents to a client sending server name sni. verify checks it against the
// CA for sni; without verify any certificate is accepted (the default one, for a
// name it does not cover).
func handshake(t *testing.T, f *tlsFiles, addr, sni string, verify bool) *big.Int {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: f.ca.Pool(), ServerName: sni, InsecureSkipVerify: !verify})
	if err != nil {
		t.Fatalf("TLS handshake for %s: %v", sni, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// TestHTTPS runs the controller with --tls-listen, a default certificate and a
// certificate directory holding one host's certificate and a wildcard, and checks
// what a client of the HTTPS ingress sees: HTTP/1.1 and HTTP/2 (ALPN) to an
// HTTP/1.1 revision, with X-Forwarded-Proto https reaching the app; a gRPC call over
// TLS to an h2c revision; each server name its certificate (SNI), an unknown one
// the default; a renewed certificate served without a restart. The plain ingress
// stays.
func TestHTTPS(t *testing.T) {
	ca, err := testcert.NewCA("servekit e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	files := &tlsFiles{ca: ca, dir: t.TempDir()}
	const helloHost, grpcHost = "hello.default.example.com", "grpc.default.example.com"
	defDir := t.TempDir()
	defSerial := files.put(t, defDir, "default.test")
	helloSerial := files.put(t, filepath.Join(files.dir, helloHost), helloHost)
	wildSerial := files.put(t, filepath.Join(files.dir, "*.default.example.com"), "*.default.example.com")

	fx := newStateFixture(t, grpcConfig)
	fx.write(t, "hello.yaml", appService("hello", "TLS", "10"))
	fx.write(t, "grpc.yaml", grpcService("grpc", "0"))
	fx.flags = []string{"--tls-listen", "127.0.0.1:0", "--tls-dir", files.dir,
		"--tls-cert", filepath.Join(defDir, "tls.crt"), "--tls-key", filepath.Join(defDir, "tls.key")}
	p := fx.start(t)
	m := httpsLine.FindStringSubmatch(p.logs.String())
	if m == nil {
		t.Fatalf("no HTTPS address in the serving line:\n%s", p.logs.String())
	}
	httpsAddr := m[1]
	p.waitStatus(t, "hello Ready", time.Minute, serviceReady("hello", "hello-00001"))

	// HTTP/1.1 and HTTP/2 over TLS to an HTTP/1.1 revision; the client's claim of
	// plain http is replaced.
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: helloHost}}
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP1(!h2)
		tr.Protocols.SetHTTP2(h2)
		client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		for _, path := range []string{"/", "/forwarded-proto"} {
			req, _ := http.NewRequest(http.MethodGet, "https://"+httpsAddr+path, nil)
			req.Host = helloHost
			req.Header.Set("X-Forwarded-Proto", "http")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("HTTPS GET %s (HTTP/2 %v): %v", path, h2, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := map[string]string{"/": "Hello TLS!\n", "/forwarded-proto": "X-Forwarded-Proto: https\n"}[path]
			wantProto := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]
			if resp.StatusCode != http.StatusOK || string(b) != want || resp.Proto != wantProto {
				t.Errorf("HTTPS GET %s: %s %s %q, want 200 over %s, %q", path, resp.Proto, resp.Status, b, wantProto, want)
			}
			if got := resp.TLS.PeerCertificates[0].SerialNumber; got.Cmp(helloSerial) != 0 {
				t.Errorf("HTTPS GET %s: certificate %v, want %s's own %v", path, got, helloHost, helloSerial)
			}
		}
		tr.CloseIdleConnections()
	}
	// The plain listener stays, and says http whatever the client claims.
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.ingress+"/forwarded-proto", nil)
	req.Host = helloHost
	req.Header.Set("X-Forwarded-Proto", "https")
	if resp, err := p.client.Do(req); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "X-Forwarded-Proto: http\n" {
			t.Errorf("plain GET: %s %q, want X-Forwarded-Proto: http", resp.Status, b)
		}
	}

	// gRPC over TLS to an h2c revision (its certificate is the wildcard's), from
	// zero pods.
	conn, err := grpc.NewClient("passthrough:///"+httpsAddr,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.Pool(), ServerName: grpcHost})),
		grpc.WithAuthority(grpcHost))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	got, err := unary(ctx, conn, "over TLS")
	cancel()
	if err != nil || got != "over TLS" {
		t.Errorf("gRPC call over TLS: %q, %v; want the echo", got, err)
	}

	// SNI: each name its certificate; a name with none, the default.
	for _, tc := range []struct {
		sni    string
		verify bool
		want   *big.Int
	}{
		{helloHost, true, helloSerial},
		{grpcHost, true, wildSerial},
		{"other.default.example.com", true, wildSerial},
		{"unknown.example.org", false, defSerial},
		{"default.test", true, defSerial},
	} {
		if got := handshake(t, files, httpsAddr, tc.sni, tc.verify); got.Cmp(tc.want) != 0 {
			t.Errorf("server name %s: certificate %v, want %v", tc.sni, got, tc.want)
		}
	}

	// A renewed certificate is served without a restart.
	renewed := files.put(t, filepath.Join(files.dir, helloHost), helloHost)
	deadline := time.Now().Add(30 * time.Second)
	for handshake(t, files, httpsAddr, helloHost, true).Cmp(renewed) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate of %s is not served after 30s:\n%s", helloHost, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond) // poll interval of an observed condition
	}
	p.stop(t)
}

// TestHTTPSBadCertificate: the controller does not start when a certificate does
// not load; its error names the file.
func TestHTTPSBadCertificate(t *testing.T) {
	ca, err := testcert.NewCA("servekit e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	files := &tlsFiles{ca: ca, dir: t.TempDir()}
	files.put(t, filepath.Join(files.dir, "good.example.com"), "good.example.com")
	bad := filepath.Join(files.dir, "bad.example.com", "tls.crt")
	files.put(t, filepath.Dir(bad), "bad.example.com")
	if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fx := newStateFixture(t, "")
	fx.flags = []string{"--tls-listen", "127.0.0.1:0", "--tls-dir", files.dir}
	p := fx.start(t)
	<-p.done
	if code := p.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(p.logs.String(), bad) {
		t.Errorf("controller with a bad certificate: exit %d, want 1 and an error naming %s:\n%s", code, bad, p.logs.String())
	}
}

// TestTLSFlagErrors: HTTPS flags that do not go together are refused at once,
// naming the flag.
func TestTLSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"--tls-listen", "127.0.0.1:0", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{"dir without listener", []string{"--tls-dir", dir}, "--tls-listen: required with --tls-cert or --tls-dir"},
		{"listener without certificates", []string{"--tls-listen", "127.0.0.1:0"}, "--tls-listen: HTTPS needs --tls-cert and --tls-key, or --tls-dir"},
		{"cluster mode, certificates without a listener", []string{"--tls-dir", dir, "--kubeconfig", "in-cluster"}, "--tls-listen: required with --tls-cert or --tls-dir"},
		{"missing dir", []string{"--tls-listen", "127.0.0.1:0", "--tls-dir", filepath.Join(dir, "nope")}, filepath.Join(dir, "nope")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut strings.Builder
			args := append([]string{"--manifests", t.TempDir(), "--state-dir", "", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, tc.args...)
			if code := run(context.Background(), args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("run(%q) = %d, stderr %q; want 1 and %q", tc.args, code, errOut.String(), tc.want)
			}
		})
	}
}
