package activator

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Resolver tells the Handler which revision a request is for. The platform provides
// it (from its route table, the listener, a Host map…). An error is answered 404 with
// the error's text.
type Resolver interface {
	Resolve(r *http.Request) (RevisionKey, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(r *http.Request) (RevisionKey, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(r *http.Request) (RevisionKey, error) { return f(r) }

// Knative's revision headers, set by its ingress on requests sent to the activator.
const (
	RevisionNamespaceHeader = "Knative-Serving-Namespace"
	RevisionNameHeader      = "Knative-Serving-Revision"
)

// KnativeHeaders returns Knative's resolver, for a drop-in next to Knative's ingress:
// the revision comes from the Knative-Serving-Namespace and Knative-Serving-Revision
// headers or, when either is missing, from a Host of the form
// <revision>.<namespace>.svc.<cluster-domain>.
//
// Opt-in only: any client that reaches the activator directly can pick any revision
// in any namespace with these headers, so use it only where the ingress overwrites
// them and nothing else can reach the activator.
func KnativeHeaders() Resolver {
	return ResolverFunc(func(r *http.Request) (RevisionKey, error) {
		ns, name := r.Header.Get(RevisionNamespaceHeader), r.Header.Get(RevisionNameHeader)
		if ns != "" && name != "" {
			return RevisionKey{Namespace: ns, Name: name}, nil
		}
		return ServiceHost(r.Host)
	})
}

// ServiceHost parses a Host of the form <revision>.<namespace>.svc.<cluster-domain>
// (an optional :port is ignored), Knative's fallback when the revision headers are
// absent.
func ServiceHost(host string) (RevisionKey, error) {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	parts := strings.SplitN(h, ".", 4)
	if len(parts) != 4 || parts[2] != "svc" || parts[0] == "" || parts[1] == "" || parts[3] == "" {
		return RevisionKey{}, fmt.Errorf("activator: Host %q is not <revision>.<namespace>.svc.<cluster-domain>", host)
	}
	return RevisionKey{Namespace: parts[1], Name: parts[0]}, nil
}

// errNoResolver is returned by NewHandler without a Resolver.
var errNoResolver = errors.New("activator: HandlerOptions.Resolver is required")
