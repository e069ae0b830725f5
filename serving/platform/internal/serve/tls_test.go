package serve

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sync/errgroup"

	"github.com/servekit/servekit/internal/testcert"
)

// A listener with TLS serves HTTPS, HTTP/2 and HTTP/1.1 by ALPN; at its connection
// cap a new connection is closed without a clear-text 503 (which a TLS client
// would take for a broken handshake), and the held ones keep being served.
func TestTLSListener(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca, err := testcert.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	crt, key, _, err := ca.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	// Two listeners: one with the default cap, one with a cap of one connection.
	var lns []Listener
	for _, n := range []int{0, 1} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		proto := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) })
		lns = append(lns, Listener{Handler: proto, Listener: ln, Limits: Limits{MaxConns: n},
			TLS: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	Go(ctx, &g, 5*time.Second, lns...)
	defer func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("Wait = %v", err)
		}
	}()
	addr := lns[0].Listener.Addr().String()
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP2(h2)
		tr.Protocols.SetHTTP1(!h2)
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		want := map[bool]string{true: "HTTP/2.0", false: "HTTP/1.1"}[h2]
		if string(b) != want {
			t.Errorf("HTTPS GET (HTTP/2 %v) answered over %q, want %s", h2, b, want)
		}
	}

	// One connection held: the cap.
	addr = lns[1].Listener.Addr().String()
	var held *tls.Conn
	for deadline := time.Now().Add(10 * time.Second); held == nil; {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool()})
		if err == nil && c.SetDeadline(time.Now().Add(time.Second)) == nil {
			if _, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err == nil {
				if _, err = c.Read(make([]byte, 1)); err == nil {
					held = c
					break
				}
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection served within 10s: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of an observed condition
	}
	defer held.Close()
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := raw.Read(make([]byte, 64)); n != 0 || err == nil {
		t.Errorf("a connection over the cap read %d bytes, %v; want it closed with nothing written", n, err)
	}
}
