package endpoints_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/activator/endpoints"
)

// Parse reads a static description of revisions and their pods.
func ExampleParse() {
	c, err := endpoints.Parse([]byte(`
revisions:
- namespace: default
  name: hello-00001
  containerConcurrency: 1
  hosts: [hello.example.com]
  addresses: ["127.0.0.1:8081", "127.0.0.1:8082"]
`))
	if err != nil {
		panic(err)
	}
	for _, r := range c.Revisions {
		fmt.Println(r.Key(), r.ContainerConcurrency, r.Hosts, r.Addresses)
	}
	_, err = endpoints.Parse([]byte("revisions:\n- {namespace: default, containerConcurrency: 1}\n"))
	fmt.Println(err)
	// Output:
	// default/hello-00001 1 [hello.example.com] [127.0.0.1:8081 127.0.0.1:8082]
	// endpoints file: revisions[0].name: required
}

// A Source puts a Config's revisions into a Throttler and routes requests to them by
// Host; pass it as the Handler's Resolver.
func ExampleSource() {
	th := activator.NewThrottler(activator.Options{})
	src := endpoints.NewSource(th, nil)
	rev, err := endpoints.ParseRevisionFlag("default/hello-00001=127.0.0.1:8081", 1, 0)
	if err != nil {
		panic(err)
	}
	rev.Hosts = []string{"hello.example.com"}
	src.Apply(&endpoints.Config{Revisions: []endpoints.Revision{rev}})

	r, _ := th.Revision(rev.Key())
	fmt.Println("containerConcurrency:", r.ContainerConcurrency)
	for _, host := range []string{"hello.example.com", "hello-00001.default.svc.cluster.local", "other.example.com"} {
		key, err := src.Resolve(httptest.NewRequest("GET", "http://"+host+"/", nil))
		fmt.Println(host, "→", key, err)
	}
	h, err := activator.NewHandler(activator.HandlerOptions{Throttler: th, Resolver: src})
	fmt.Println(h != nil, err)
	// Output:
	// containerConcurrency: 1
	// hello.example.com → default/hello-00001 <nil>
	// hello-00001.default.svc.cluster.local → default/hello-00001 <nil>
	// other.example.com → / activator: no revision for Host "other.example.com"
	// true <nil>
}
