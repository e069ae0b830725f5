package activator

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDeps keeps the activator importable on its own: of servekit it may use only
// queue and the stat's leaf package autoscaler/metrics (never the autoscaler
// itself), and it must not pull in client-go or the Kubernetes API types.
func TestNoDeps(t *testing.T) {
	allowed := map[string]bool{
		"github.com/servekit/servekit/activator":          true,
		"github.com/servekit/servekit/queue":              true,
		"github.com/servekit/servekit/autoscaler/metrics": true,
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "github.com/servekit/servekit/") && !allowed[dep]:
			t.Errorf("activator imports %s; only queue and autoscaler/metrics are allowed from servekit", dep)
		case strings.HasPrefix(dep, "k8s.io/client-go"), strings.HasPrefix(dep, "k8s.io/api/"), strings.HasPrefix(dep, "k8s.io/apimachinery"):
			t.Errorf("activator imports %s", dep)
		case strings.HasPrefix(dep, "go.opencensus.io"):
			t.Errorf("activator imports %s; OpenCensus belongs in activator/ocmetrics", dep)
		}
	}
}
