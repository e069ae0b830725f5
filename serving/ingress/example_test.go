package ingress_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"k8s.io/apimachinery/pkg/types"

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
