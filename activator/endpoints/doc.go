// Package endpoints feeds an activator from a static description of revisions and
// their pods' addresses, for running the activator without a control plane (or next
// to one that writes a file): Parse reads the description (YAML or JSON), Source
// applies it to a Throttler (revisions added, updated and removed) and routes
// requests by Host, and Source.Watch re-reads a file when it changes.
//
// The description:
//
//	revisions:
//	- namespace: default
//	  name: hello-00001
//	  containerConcurrency: 1
//	  timeoutSeconds: 300
//	  hosts: [hello.default.example.com]
//	  addresses: ["127.0.0.1:8081", "127.0.0.1:8082"]
//
// A platform with its own endpoint discovery (a Kubernetes EndpointSlice informer, a
// service registry) calls the Throttler's SetRevision and UpdateEndpoints itself and
// does not need this package.
package endpoints
