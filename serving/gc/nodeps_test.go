package gc

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoForbiddenDeps keeps this package pure: no Kubernetes client, no
// OpenCensus, and of servekit only the serving API packages.
func TestNoForbiddenDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "k8s.io/client-go"),
			strings.HasPrefix(dep, "go.opencensus.io"),
			strings.HasPrefix(dep, "github.com/servekit/servekit/") &&
				dep != "github.com/servekit/servekit/serving" &&
				dep != "github.com/servekit/servekit/serving/v1" &&
				// serving/v1 validates with the autoscaler's annotation rules
				// and the route/traffic rules.
				dep != "github.com/servekit/servekit/autoscaler" &&
				dep != "github.com/servekit/servekit/autoscaler/window" &&
				dep != "github.com/servekit/servekit/autoscaler/metrics" &&
				dep != "github.com/servekit/servekit/route/traffic" &&
				dep != "github.com/servekit/servekit/serving/gc":
			t.Errorf("serving/gc depends on %s", dep)
		}
	}
}
