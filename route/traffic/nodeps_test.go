package traffic

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf keeps traffic a leaf that any API package may import: the
// standard library and apimachinery's util/validation only (with what that
// pulls in), no servekit package, no client-go, no k8s.io/api.
func TestLeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "github.com/servekit/servekit/route/traffic":
		case strings.HasPrefix(dep, "github.com/servekit/servekit/"),
			strings.HasPrefix(dep, "k8s.io/client-go"), strings.HasPrefix(dep, "k8s.io/api/"),
			strings.HasPrefix(dep, "go.opencensus.io"):
			t.Errorf("route/traffic depends on %s", dep)
		}
	}
	out, err = exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -f: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") && imp != "k8s.io/apimachinery/pkg/util/validation" {
			t.Errorf("route/traffic imports %s directly", imp)
		}
	}
}
