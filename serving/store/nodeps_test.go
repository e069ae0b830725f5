package store_test

import (
	"os/exec"
	"strings"
	"testing"
)

// bbolt is this package's business: serving/controller declares the Store it
// needs and imports no database.
func TestControllerHasNoBbolt(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/servekit/servekit/serving/controller").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "go.etcd.io/") {
			t.Errorf("serving/controller depends on %s", dep)
		}
	}
}
