// Package ingress is servekit's ingress: the first hop of the data path. It routes
// each request by Host (and, with tag-header routing, the Knative-Serving-Tag
// header) through the route table to a revision, then either straight to one of the
// revision's ready pods (Knative's SKS Serve mode) or through the activator (Proxy
// mode: the revision has no ready pod or too little spare capacity), and reports
// every request.
//
// The one idea: the Ingress decides nothing about scale or placement. It reads, per
// request and without locks, what its composer publishes: the route table (package
// route), and per revision a Revision holding the activator-in-path flag and the
// ready pod addresses. serving/controller is one composer: its autoscaler flips the
// flag, its runtime's pod changes set the addresses. A platform team with its own
// control plane can compose the same Ingress with its own route table and activator.
//
// A direct request that cannot reach its pod (the pod went away between an endpoint
// update and the request) and has no body to replay goes to the activator, which
// waits for a pod; any other proxy error is a 502.
//
// "Expect: 100-continue" goes through to the pod on both paths, so the app decides
// whether the client sends its body (see ExpectContinueTimeout).
//
// # Protocols
//
// The Ingress handles HTTP/1.1 and HTTP/2 requests alike (its server should offer
// both: net/http's Protocols with SetUnencryptedHTTP2, as serving/platform does). A
// revision whose pods speak cleartext HTTP/2 (Revision.SetH2C; Knative: its port is
// named h2c) is sent its requests over h2c, whatever the client spoke, so that gRPC
// passes; others over HTTP/1.1. Upgrade requests (websockets) always go over
// HTTP/1.1. An "Upgrade: h2c" offer is declined: the request is served over HTTP/1.1
// (see docs/protocols.md for why).
//
// # TLS
//
// Served over TLS (http.Server.ServeTLS with Certificates.TLSConfig, as
// serving/platform's HTTPS listener does), the Ingress forwards exactly as over
// plain HTTP; the app sees X-Forwarded-Proto: https. Certificates holds the
// certificates: a default pair and a directory of per-host ones chosen by the
// client's server name (SNI), followed for renewals by its Run. It is a
// CertificateSource: whoever needs to know the certificate of a host (a custom
// domain) asks it.
package ingress
