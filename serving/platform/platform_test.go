package platform_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/platform"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(appEnv); mode != "" { // a pod of reload_test.go's services
		appMain(mode, os.Args[1:])
		return
	}
	goleak.VerifyTestMain(m)
}

func TestNewErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		o    platform.Options
		want string
	}{
		{"no manifests", platform.Options{Manifests: filepath.Join(t.TempDir(), "nope")}, "Options.Manifests"},
		{"bad listen", platform.Options{Manifests: t.TempDir(), Listen: "nope", Admin: "127.0.0.1:0"}, "Options.Listen"},
		{"admin in use", platform.Options{Manifests: t.TempDir(), Listen: "127.0.0.1:0", Admin: busy.Addr().String()}, "Options.Admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := platform.New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// Run serves /status and /metrics (when given) on the admin listener, then stops
// cleanly when its context is done.
func TestRunServesAdmin(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("m 1\n")) })
	p, err := platform.New(platform.Options{Manifests: t.TempDir(), Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	if p.Controller() == nil || p.Runtime() == nil {
		t.Fatal("no controller or runtime")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	resp, err := http.Get("http://" + p.AdminAddr().String() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st controller.Status
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || len(st.Services) != 0 {
		t.Errorf("/status = %+v, %v; want no services", st, err)
	}
	resp, err = http.Get("http://" + p.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/metrics: %s", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.IngressAddr().String()+"/", nil)
	req.Host = "nope.default.example.com"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown host: %s, want 404", resp.Status)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestLoadImageMap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "imagemap.yaml")
	if err := os.WriteFile(path, []byte("example.com/app:v1: [./app, --port, \"8080\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := platform.LoadImageMap(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{filepath.Join(dir, "app"), "--port", "8080"}, m["example.com/app:v1"]); diff != "" {
		t.Errorf("mapped command (-want +got):\n%s", diff)
	}
	if len(m) < 2 {
		t.Errorf("the default map is lost: %v", m)
	}
	if _, err := platform.LoadImageMap(filepath.Join(dir, "nope")); err == nil || !strings.HasPrefix(err.Error(), "platform: image map") {
		t.Errorf("missing file: %v", err)
	}
}

func TestBaseEnv(t *testing.T) {
	got := platform.BaseEnv([]string{"PATH=/bin", "SECRET=x", "HOME=/h", "LC_ALL=C", "KUBECONFIG=/k"})
	if diff := cmp.Diff([]string{"PATH=/bin", "HOME=/h", "LC_ALL=C"}, got); diff != "" {
		t.Errorf("BaseEnv (-want +got):\n%s", diff)
	}
}
