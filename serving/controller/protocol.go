package controller

import v1 "github.com/servekit/servekit/serving/v1"

// revisionH2C reports whether the revision's pods speak cleartext HTTP/2: Knative's
// rule (Revision.GetProtocol), the first port of the serving container (the one that
// declares ports, or the only one) is named h2c. The ingress and the activator then
// send its requests over h2c, and the queue proxy, which forwards HTTP/2 as HTTP/2,
// does too; both runtimes carry it so (the Kubernetes one also opens the queue
// proxy's h2c port and names the Service port http2).
func revisionH2C(rev *v1.Revision) bool {
	cs := rev.Spec.Containers
	for i := range cs {
		if len(cs[i].Ports) > 0 {
			return cs[i].Ports[0].Name == "h2c"
		}
	}
	return false
}
