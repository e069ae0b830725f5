package queue

import (
	"os/exec"
	"strings"
	"testing"
)

func goListDeps(t *testing.T, pattern string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pattern).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pattern, err, out)
	}
	return strings.Fields(string(out))
}

// TestNoDeps keeps queue importable on its own: nothing under queue/ imports another
// servekit package (ocmetrics, a leaf adapter, may import queue), client-go or the
// Kubernetes API types; queue itself does not import OpenCensus either. The one
// exception is the stat's leaf package, autoscaler/metrics, shared with the
// autoscaler; the rest of the autoscaler stays out.
func TestNoDeps(t *testing.T) {
	const (
		self  = "github.com/servekit/servekit/queue"
		stat  = "github.com/servekit/servekit/autoscaler/metrics"
		scale = "github.com/servekit/servekit/autoscaler"
	)
	deps := goListDeps(t, self+"/...")
	for _, dep := range deps {
		switch {
		case dep == self || strings.HasPrefix(dep, self+"/"), dep == stat:
		case dep == scale:
			t.Errorf("queue/... depends on %s; only %s is allowed of the autoscaler", dep, stat)
		case strings.HasPrefix(dep, "github.com/servekit/servekit/"),
			strings.HasPrefix(dep, "k8s.io/client-go"),
			strings.HasPrefix(dep, "k8s.io/api/"):
			t.Errorf("queue/... depends on %s", dep)
		}
	}
	for _, dep := range goListDeps(t, self) {
		if strings.HasPrefix(dep, "go.opencensus.io") || strings.HasPrefix(dep, "k8s.io/") {
			t.Errorf("queue depends on %s", dep)
		}
	}
}
