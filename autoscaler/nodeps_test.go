package autoscaler

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/servekit/servekit/"

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, out)
	}
	return strings.Fields(string(out))
}

// TestNoForbiddenDeps keeps autoscaler/... free of k8s.io/client-go and of
// other servekit packages, and OpenCensus out of everything but an
// */ocmetrics leaf.
func TestNoForbiddenDeps(t *testing.T) {
	for _, pkg := range goList(t, module+"autoscaler/...") {
		leaf := strings.HasSuffix(pkg, "/ocmetrics")
		for _, dep := range goList(t, "-deps", pkg) {
			switch {
			case strings.HasPrefix(dep, "k8s.io/client-go"):
				t.Errorf("%s depends on %s", pkg, dep)
			case strings.HasPrefix(dep, module) && !strings.HasPrefix(dep, module+"autoscaler"):
				t.Errorf("%s depends on servekit package %s", pkg, dep)
			case !leaf && strings.HasPrefix(dep, "go.opencensus.io"):
				t.Errorf("%s depends on %s (only an ocmetrics leaf may)", pkg, dep)
			}
		}
	}
}

// TestNoForbiddenDepsCoversSubpackages makes sure the rule above reaches
// the subpackages, among them the trace replay (autoscaler/sim): it too
// imports only the stdlib and the autoscaler tree.
func TestNoForbiddenDepsCoversSubpackages(t *testing.T) {
	pkgs := goList(t, module+"autoscaler/...")
	for _, want := range []string{"autoscaler", "autoscaler/window", "autoscaler/sim", "autoscaler/metrics"} {
		if !slices.Contains(pkgs, module+want) {
			t.Errorf("go list %sautoscaler/... = %v, lacks %s", module, pkgs, want)
		}
	}
}
