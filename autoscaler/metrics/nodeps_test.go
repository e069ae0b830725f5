package metrics

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDeps keeps metrics a leaf that queue and activator may import: the standard
// library and protowire only.
func TestNoDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "github.com/servekit/servekit/autoscaler/metrics":
		case dep == "google.golang.org/protobuf/encoding/protowire",
			strings.HasPrefix(dep, "google.golang.org/protobuf/internal/"): // protowire's own
		case strings.Contains(strings.Split(dep, "/")[0], "."):
			t.Errorf("metrics depends on %s; only the standard library and protowire are allowed", dep)
		}
	}
	if !strings.Contains(string(out), "google.golang.org/protobuf/encoding/protowire") {
		t.Errorf("metrics does not use protowire:\n%s", out)
	}
}
