package ingress_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/internal/testcert"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving/ingress"
)

// An Ingress composed by hand: a route table, one revision's data-path state, and an
// activator. Requests go to the activator until the composer takes it out of the
// path; then straight to the revision's pods.
func ExampleNew() {
	pod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the pod, host %s", r.Host)
	}))
	defer pod.Close()

	table, err := route.NewTable([]route.TableRoute{{
		Namespace: "default", Name: "hello",
		Destinations: []route.Destination{{
			Hosts:  []string{"hello.default.example.com"},
			Splits: []route.Split{{RevisionName: "hello-00001", Percent: 100}},
		}},
	}}, route.TableOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var routes route.TableHolder
	routes.Store(table)

	rev := ingress.NewRevision(types.NamespacedName{Namespace: "default", Name: "hello-00001"})
	in, err := ingress.New(ingress.Options{
		Routes:   &routes,
		Revision: func(key types.NamespacedName) *ingress.Revision { return rev }, // the only one
		// A stand-in for activator.Handler, which would buffer the request until a
		// pod is ready; its resolver is ingress.ResolveRevision.
		Activator: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k, _ := ingress.ResolveRevision(r)
			fmt.Fprintf(w, "activator holds a request for %s", k.Name)
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer in.CloseIdleConnections()
	get := func(host string) {
		rec := httptest.NewRecorder()
		in.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://"+host+"/", nil))
		body, _ := io.ReadAll(rec.Body)
		fmt.Println(rec.Code, strings.TrimSpace(string(body)))
	}

	get("hello.default.example.com") // a new revision has the activator in the path
	rev.SetAddresses([]string{strings.TrimPrefix(pod.URL, "http://")})
	rev.SetActivatorInPath(false) // e.g. the autoscaler saw enough spare capacity
	get("hello.default.example.com")
	get("other.default.example.com")
	// Output:
	// 200 activator holds a request for hello-00001
	// 200 hello from the pod, host hello.default.example.com
	// 404 servekit: no route for host "other.default.example.com"
}

// Certificates from a directory of per-host certificates (DIR/<host>/tls.crt and
// tls.key), served over TLS: the client gets the certificate of the server name it
// sends, and HTTP/2 by ALPN.
func ExampleNewCertificates() {
	// A CA and a certificate for shop.example.com, as an operator would provide.
	ca, _ := testcert.NewCA("example CA")
	crt, key, _, _ := ca.Issue("shop.example.com")
	dir, _ := os.MkdirTemp("", "certs")
	defer os.RemoveAll(dir)
	_ = os.Mkdir(filepath.Join(dir, "shop.example.com"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "shop.example.com", ingress.CertFileName), crt, 0o600)
	_ = os.WriteFile(filepath.Join(dir, "shop.example.com", ingress.KeyFileName), key, 0o600)

	certs, err := ingress.NewCertificates(ingress.CertificatesOptions{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("hosts:", certs.Hosts())

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s over %s", r.Host, r.Proto)
	}))
	srv.TLS = certs.TLSConfig()
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "shop.example.com"}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Host = "shop.example.com"
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body), "; certificate for", resp.TLS.PeerCertificates[0].DNSNames)
	// Output:
	// hosts: [shop.example.com]
	// shop.example.com over HTTP/2.0 ; certificate for [shop.example.com]
}
