package platform_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The local platform and the packages it composes for a platform team (manifests,
// config, status) depend neither on OpenCensus (a leaf adapter's business:
// serving/controller/ocmetrics) nor on client-go (serving/platform/cluster's).
func TestNoOpenCensusNorClientGo(t *testing.T) {
	pkgs := []string{"serving/platform", "serving/manifests", "serving/config", "serving/status"}
	for _, p := range pkgs {
		out, err := exec.Command("go", "list", "-deps", "github.com/servekit/servekit/"+p).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", p, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "go.opencensus.io/") || strings.HasPrefix(dep, "k8s.io/client-go/") {
				t.Errorf("%s depends on %s", p, dep)
			}
		}
	}
}
