package activator

import (
	"net/http"
	"testing"

	"github.com/servekit/servekit/queue"
)

// TestHeaderNamesCanonical guards rewrite, which sets and deletes these headers in
// the map directly (no Header.Set): a name that is not in canonical form would be a
// second, unseen header next to the one net/http reads.
func TestHeaderNamesCanonical(t *testing.T) {
	for _, k := range []string{
		queue.OriginalHostHeader, queue.ProxyHeaderName, queue.PeerTokenHeader,
		queue.KubeletProbeHeader, RevisionNamespaceHeader, RevisionNameHeader,
	} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("header %q is not canonical (%q)", k, c)
		}
	}
}
