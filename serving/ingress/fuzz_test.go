package ingress_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/ingress"
)

// FuzzIngress sends raw bytes as a request to an Ingress served by an http.Server
// on loopback: hello.default.example.com goes straight to a pod, its tag "blue"
// (host or Knative-Serving-Tag header) to an activator, other hosts nowhere. The
// ingress must never panic, and every request the client finished sending (it
// parses, and its whole body is there) must get an answer.
func FuzzIngress(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: hello.default.example.com\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: blue-hello.default.example.com\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: hello.default.example.com\r\nKnative-Serving-Tag: blue\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: nowhere.example.com\r\n\r\n",
		"POST /x?y=1 HTTP/1.1\r\nHost: hello.default.example.com\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: hello.default.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: hello.default.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
		"POST / HTTP/1.1\r\nHost: blue-hello.default.example.com\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
		"POST / HTTP/1.1\r\nHost: hello.default.example.com\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"PUT / HTTP/1.1\r\nHost: hello.default.example.com\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
		"GET http://hello.default.example.com/abs HTTP/1.1\r\nHost: other\r\n\r\n",
		"CONNECT hello.default.example.com:80 HTTP/1.1\r\nHost: hello.default.example.com\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: hello.default.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: hello.default.example.com\r\n\r\nGET / HTTP/1.1\r\nHost: blue-hello.default.example.com\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: hello.default.example.com\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}

	podSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "pod %s %d %v", r.Method, n, err)
	}))
	f.Cleanup(podSrv.Close)
	direct := ingress.NewRevision(helloKey)
	direct.SetActivatorInPath(false)
	direct.SetAddresses([]string{strings.TrimPrefix(podSrv.URL, "http://")})
	viaAct := ingress.NewRevision(blueKey)
	act := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := ingress.ResolveRevision(r); err != nil {
			panic("activator: request without a revision")
		}
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "activator %d %v", n, err)
	})
	revs := map[types.NamespacedName]*ingress.Revision{helloKey: direct, blueKey: viaAct}
	in, err := ingress.New(ingress.Options{
		Routes:           routes(f, true),
		TagHeaderRouting: true,
		Revision:         func(k types.NamespacedName) *ingress.Revision { return revs[k] },
		Activator:        act,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(in.CloseIdleConnections)
	errLog := &syncBuffer{}
	srv := httptest.NewUnstartedServer(in)
	srv.Config.ErrorLog = log.New(errLog, "", 0)
	srv.Config.ReadHeaderTimeout = 5 * time.Second
	srv.Config.MaxHeaderBytes = 64 << 10
	srv.Start()
	f.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	f.Fuzz(func(t *testing.T, data []byte) {
		complete := false
		if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data))); err == nil {
			_, err := io.ReadAll(req.Body)
			complete = err == nil
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(data); err != nil {
			return // the server closed early: it may (431, 400)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		out, err := io.ReadAll(c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("no end of the answer within 10 s; got %q", out)
		}
		if complete && !bytes.HasPrefix(out, []byte("HTTP/1.")) {
			t.Errorf("complete request %q: answer %q, want a response", data, out)
		}
		if s := errLog.String(); strings.Contains(s, "panic") {
			t.Fatalf("the server logged a panic: %s", s)
		}
	})
}
