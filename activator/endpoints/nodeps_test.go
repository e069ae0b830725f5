package endpoints

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDeps keeps the package light: of servekit only activator (and what it
// imports: queue and the stat's leaf package autoscaler/metrics), and no client-go,
// Kubernetes API types or OpenCensus.
func TestNoDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "github.com/servekit/servekit/activator", "github.com/servekit/servekit/activator/endpoints", "github.com/servekit/servekit/queue",
			"github.com/servekit/servekit/autoscaler/metrics":
			continue
		}
		switch {
		case strings.HasPrefix(dep, "github.com/servekit/servekit/"):
			t.Errorf("endpoints imports %s; only activator (and queue and autoscaler/metrics through it) are allowed", dep)
		case strings.HasPrefix(dep, "k8s.io/client-go"), strings.HasPrefix(dep, "k8s.io/api/"), strings.HasPrefix(dep, "k8s.io/apimachinery"), strings.HasPrefix(dep, "go.opencensus.io"):
			t.Errorf("endpoints imports %s", dep)
		}
	}
}
