package queue

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDeps keeps queue importable on its own: no other servekit package, no
// Kubernetes client or API types (ocmetrics, a leaf adapter, may use queue and
// OpenCensus).
func TestNoDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/servekit/servekit/queue").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "github.com/servekit/servekit/queue":
		case strings.HasPrefix(dep, "github.com/servekit/servekit/"),
			strings.HasPrefix(dep, "k8s.io/client-go"),
			strings.HasPrefix(dep, "k8s.io/api/"),
			strings.HasPrefix(dep, "k8s.io/"),
			strings.HasPrefix(dep, "go.opencensus.io"):
			t.Errorf("queue depends on %s", dep)
		}
	}
}
