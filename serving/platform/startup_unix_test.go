//go:build unix

package platform

import (
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/servekit/servekit/serving/controller"
)

// A FIFO in the manifests directory at start-up neither freezes the platform nor
// keeps it from serving: it is listed as an error, the other files are applied, and
// Run stops on cancel (issue 17, case 3).
func TestFIFOInManifestsAtStartup(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "a-pipe.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("kind: [Service\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Manifests: dir, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runPlatform(t, p)
	defer stop()

	c := newStartupClient(t)
	if code, _ := c.get("http://"+p.IngressAddr().String()+"/", "nope.default.example.com"); code != http.StatusNotFound {
		t.Errorf("ingress = %d, want 404", code)
	}
	c.waitStatus(p, "both files listed as errors", 10*time.Second, func(st controller.Status) bool {
		return hasError(st, "a-pipe.yaml", "not a regular file: a named pipe (FIFO)") && hasError(st, "broken.yaml", "malformed YAML")
	})
	// A change of another file is still applied.
	if err := os.Remove(filepath.Join(dir, "broken.yaml")); err != nil {
		t.Fatal(err)
	}
	c.waitStatus(p, "broken.yaml's removal seen", 10*time.Second, func(st controller.Status) bool { return !hasError(st, "broken.yaml", "") })
}
