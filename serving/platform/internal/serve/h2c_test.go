package serve

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sync/errgroup"
)

// A listener with H2C serves HTTP/1.1 and cleartext HTTP/2 with prior knowledge
// (`curl --http2-prior-knowledge`, gRPC) on one port; one without serves HTTP/1.1
// only, and an h2c client fails there (issue 13: "connection reset by peer").
func TestH2CListener(t *testing.T) {
	defer goleak.VerifyNone(t)
	proto := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) })
	var lns []Listener
	for _, h2c := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, Listener{Handler: proto, Listener: ln, H2C: h2c})
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
	get := func(addr string, h2c bool) (string, error) {
		tr := &http.Transport{DisableKeepAlives: true}
		if h2c {
			tr.Protocols = new(http.Protocols)
			tr.Protocols.SetUnencryptedHTTP2(true)
		}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + addr + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	h2, h1 := lns[0].Listener.Addr().String(), lns[1].Listener.Addr().String()
	for _, tc := range []struct {
		addr string
		h2c  bool
		want string
	}{{h2, true, "HTTP/2.0"}, {h2, false, "HTTP/1.1"}, {h1, false, "HTTP/1.1"}} {
		if got, err := get(tc.addr, tc.h2c); err != nil || got != tc.want {
			t.Errorf("GET %s (h2c client %t) = %q, %v; want %q", tc.addr, tc.h2c, got, err, tc.want)
		}
	}
	if got, err := get(h1, true); err == nil {
		t.Errorf("h2c client to a listener without H2C got %q, want an error", got)
	}
}
