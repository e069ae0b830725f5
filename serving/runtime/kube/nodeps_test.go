package kube

import (
	"os/exec"
	"strings"
	"testing"
)

// clientGoAllowed are the only servekit packages that may depend on client-go: this
// backend and its subpackages (store, leader, and kubetest, the real API server test
// harness), the cluster platform and its peer protocol (serving/platform/cluster,
// serving/platform/peers), and the controller binary that uses them in cluster
// mode. The primitives (autoscaler, queue, route, activator, serving/v1), the
// controller library and the local platform stay free of it.
var clientGoAllowed = []string{
	"github.com/servekit/servekit/serving/runtime/kube",
	"github.com/servekit/servekit/serving/platform/cluster",
	"github.com/servekit/servekit/serving/platform/peers",
	"github.com/servekit/servekit/examples/controller",
}

func TestOnlyKubeUsesClientGo(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "github.com/servekit/servekit/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	primitives := map[string]bool{}
	for _, p := range []string{"autoscaler", "queue", "route", "activator", "serving/v1"} {
		primitives["github.com/servekit/servekit/"+p] = false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := fields[0]
		for p := range primitives {
			if pkg == p || strings.HasPrefix(pkg, p+"/") {
				primitives[p] = true
			}
		}
		if allowed(pkg) {
			continue
		}
		for _, dep := range fields[1:] {
			if strings.HasPrefix(dep, "k8s.io/client-go/") || dep == "k8s.io/client-go" {
				t.Errorf("%s depends on %s; only %v may use client-go", pkg, dep, clientGoAllowed)
				break
			}
		}
	}
	for p, seen := range primitives {
		if !seen {
			t.Errorf("go list did not list %s: the check would miss it", p)
		}
	}
}

func allowed(pkg string) bool {
	for _, a := range clientGoAllowed {
		if pkg == a || strings.HasPrefix(pkg, a+"/") {
			return true
		}
	}
	return false
}
