package route

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDeps keeps route a leaf: the standard library plus apimachinery's
// util/validation (and what that pulls in) and its own traffic rules
// (route/traffic), no other servekit package, no client-go, no k8s.io/api.
func TestNoDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "github.com/servekit/servekit/route", dep == "github.com/servekit/servekit/route/traffic":
		case strings.HasPrefix(dep, "github.com/servekit/servekit/"):
			t.Errorf("route depends on servekit package %s", dep)
		case strings.HasPrefix(dep, "k8s.io/client-go"), strings.HasPrefix(dep, "k8s.io/api/"),
			strings.HasPrefix(dep, "go.opencensus.io"):
			t.Errorf("route depends on %s", dep)
		}
	}
	// Direct imports: only the stdlib, util/validation and route/traffic.
	out, err = exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -f: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") && imp != "k8s.io/apimachinery/pkg/util/validation" &&
			imp != "github.com/servekit/servekit/route/traffic" {
			t.Errorf("route imports %s directly", imp)
		}
	}
}
