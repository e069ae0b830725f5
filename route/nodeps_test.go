package route

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNoDeps keeps route and its traffic rules leaves: the standard
// library plus apimachinery's util/validation (and what that pulls in), no
// client-go, no k8s.io/api, and of servekit only route/traffic, which
// itself imports no servekit package (serving/v1 imports it and must not
// reach route).
func TestNoDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const traffic = "github.com/servekit/servekit/route/traffic"
	for _, tc := range []struct {
		pkg     string
		allowed []string // servekit packages it may depend on (itself included)
	}{
		{".", []string{"github.com/servekit/servekit/route", traffic}},
		{"./traffic", []string{traffic}},
	} {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", tc.pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			switch {
			case slices.Contains(tc.allowed, dep):
			case strings.HasPrefix(dep, "github.com/servekit/servekit/"):
				t.Errorf("%s depends on servekit package %s", tc.pkg, dep)
			case strings.HasPrefix(dep, "k8s.io/client-go"), strings.HasPrefix(dep, "k8s.io/api/"),
				strings.HasPrefix(dep, "go.opencensus.io"):
				t.Errorf("%s depends on %s", tc.pkg, dep)
			}
		}
		// Direct imports: only the stdlib, util/validation and the allowed
		// servekit packages.
		out, err = exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -f %s: %v\n%s", tc.pkg, err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") &&
				imp != "k8s.io/apimachinery/pkg/util/validation" && !slices.Contains(tc.allowed, imp) {
				t.Errorf("%s imports %s directly", tc.pkg, imp)
			}
		}
	}
}
