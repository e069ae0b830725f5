package runtime_test

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden are the packages no runtime may depend on: the controller that composes
// a runtime, and the data-path packages it composes. A runtime implements
// runtime.Backend with the v1 API types and this package; importing the controller
// would make every platform team's runtime carry the whole platform. Paths compare
// exactly, so a leaf such as route/traffic stays allowed.
var forbidden = []string{
	"github.com/servekit/servekit/serving/controller",
	"github.com/servekit/servekit/serving/ingress",
	"github.com/servekit/servekit/activator",
	"github.com/servekit/servekit/route",
}

func TestRuntimesDoNotImportTheController(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`,
		"github.com/servekit/servekit/serving/runtime/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		seen[fields[0]] = true
		for _, dep := range fields[1:] {
			for _, f := range forbidden {
				if dep == f {
					t.Errorf("%s depends on %s", fields[0], dep)
				}
			}
		}
	}
	for _, p := range []string{"serving/runtime", "serving/runtime/local", "serving/runtime/kube", "serving/runtime/kube/store"} {
		if !seen["github.com/servekit/servekit/"+p] {
			t.Errorf("go list did not list %s: the check would miss it", p)
		}
	}
}
