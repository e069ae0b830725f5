package activator_test

import (
	"strings"
	"testing"

	"github.com/servekit/servekit/activator"
)

// A revision's protocol is part of it: SetRevision keeps it, reports it, and refuses
// to change it, as it refuses to change containerConcurrency.
func TestRevisionH2C(t *testing.T) {
	th := activator.NewThrottler(activator.Options{})
	key := activator.RevisionKey{Namespace: "default", Name: "grpc-00001"}
	if err := th.SetRevision(key, activator.Revision{H2C: true}); err != nil {
		t.Fatal(err)
	}
	if r, _ := th.Revision(key); !r.H2C {
		t.Errorf("Revision(%s).H2C = false, want true", key)
	}
	err := th.SetRevision(key, activator.Revision{})
	if err == nil || !strings.Contains(err.Error(), "H2C cannot change") {
		t.Errorf("SetRevision with H2C false = %v, want an error saying H2C cannot change", err)
	}
}
