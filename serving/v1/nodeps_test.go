package v1_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoClientGo keeps serving/v1 importable without client-go: a
// platform that only reads manifests must not pull in an API client. Of
// servekit it may use only the serving keys, the autoscaler (whose rules
// validate the autoscaling annotations) and the traffic rules (the leaf
// route/traffic, never route itself).
func TestNoClientGo(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowed := map[string]bool{}
	for _, p := range []string{"serving", "serving/v1", "autoscaler", "autoscaler/window", "autoscaler/metrics", "route/traffic"} {
		allowed["github.com/servekit/servekit/"+p] = true
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "k8s.io/client-go") {
			t.Errorf("serving/v1 depends on %s", dep)
		}
		if strings.HasPrefix(dep, "github.com/servekit/servekit/") && !allowed[dep] {
			t.Errorf("serving/v1 depends on servekit package %s", dep)
		}
	}
}
