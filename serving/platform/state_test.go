package platform_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servekit/servekit/serving/config"
	"github.com/servekit/servekit/serving/platform"
)

// TestNewStateDirInUse: a second platform on a state directory in use fails in New
// with an error naming the option and the directory; the first runs on.
func TestNewStateDirInUse(t *testing.T) {
	state := t.TempDir()
	o := platform.Options{Manifests: t.TempDir(), StateDir: state, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0"}
	p, err := platform.New(o)
	if err != nil {
		t.Fatal(err)
	}
	stop := runUntil(t, p)
	_, err = platform.New(o)
	if err == nil || !strings.Contains(err.Error(), "Options.StateDir") || !strings.Contains(err.Error(), state) {
		t.Errorf("second New = %v, want an error naming Options.StateDir and %s", err, state)
	}
	stop()
	// Run released the directory.
	p, err = platform.New(o)
	if err != nil {
		t.Fatalf("New after the first stopped: %v", err)
	}
	runUntil(t, p)()
}

// runUntil runs p until the returned stop is called.
func runUntil(t testing.TB, p *platform.Platform) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}
}

// BenchmarkRestart100Services is the time a platform takes, from New to the 100
// Services of its state directory listed Ready (their manifests unchanged), with
// initial scale 0 so that no pod starts: loading and restoring the state, the
// first reconcile, and the first scan re-applying 100 unchanged files.
func BenchmarkRestart100Services(b *testing.B) {
	const n = 100
	manifests, state, cfgDir := b.TempDir(), b.TempDir(), b.TempDir()
	if err := os.WriteFile(filepath.Join(cfgDir, "config.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-autoscaler\ndata:\n  allow-zero-initial-scale: \"true\"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.LoadDir(cfgDir, "example.com")
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		svc := fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: s%03d
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/initial-scale: "0"
    spec:
      containers:
        - image: example.com/app
`, i)
		if err := os.WriteFile(filepath.Join(manifests, fmt.Sprintf("s%03d.yaml", i)), []byte(svc), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	mapFile := filepath.Join(cfgDir, "imagemap.yaml")
	if err := os.WriteFile(mapFile, []byte("example.com/app: [/bin/sleep, \"1000\"]\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	imageMap, err := platform.LoadImageMap(mapFile)
	if err != nil {
		b.Fatal(err)
	}
	o := platform.Options{Manifests: manifests, StateDir: state, Config: &cfg, ImageMap: imageMap, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", PollInterval: 10 * time.Millisecond}
	allReady := func(p *platform.Platform) bool {
		st := p.Controller().Status()
		if len(st.Services) != n {
			return false
		}
		for _, s := range st.Services {
			if !s.Ready {
				return false
			}
		}
		return true
	}
	start := func() (*platform.Platform, func()) {
		p, err := platform.New(o)
		if err != nil {
			b.Fatal(err)
		}
		stop := runUntil(b, p)
		deadline := time.Now().Add(2 * time.Minute)
		for !allReady(p) {
			if time.Now().After(deadline) {
				b.Fatalf("%d services not all ready within 2 minutes", n)
			}
			time.Sleep(time.Millisecond) // poll interval of an observed condition
		}
		return p, stop
	}
	_, stop := start() // fills the state directory
	stop()
	b.ResetTimer()
	for range b.N {
		_, stop := start()
		b.StopTimer()
		stop()
		b.StartTimer()
	}
}

// TestStateDirOfAnotherManifestsDir: a state directory whose objects came from
// another manifests directory is refused, naming both, rather than having all its
// objects deleted by the first scan; the directory it belongs to still starts.
func TestStateDirOfAnotherManifestsDir(t *testing.T) {
	state, mine, other := t.TempDir(), t.TempDir(), t.TempDir()
	svc := "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: hello\nspec:\n  template:\n    spec:\n      containers:\n        - image: example.com/hello\n"
	if err := os.WriteFile(filepath.Join(mine, "hello.yaml"), []byte(svc), 0o644); err != nil {
		t.Fatal(err)
	}
	o := platform.Options{Manifests: mine, StateDir: state, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", PollInterval: 10 * time.Millisecond}
	p, err := platform.New(o)
	if err != nil {
		t.Fatal(err)
	}
	stop := runUntil(t, p)
	deadline := time.Now().Add(30 * time.Second)
	for len(p.Controller().Status().Services) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("hello.yaml not applied within 30s")
		}
		time.Sleep(10 * time.Millisecond) // poll interval of an observed condition
	}
	stop()

	o.Manifests = other
	_, err = platform.New(o)
	if err == nil || !strings.Contains(err.Error(), mine) || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), state) {
		t.Fatalf("New on another manifests directory = %v, want an error naming %s, %s and %s", err, state, mine, other)
	}
	o.Manifests = mine
	p, err = platform.New(o)
	if err != nil {
		t.Fatalf("New on its own manifests directory: %v", err)
	}
	if got := p.Controller().Status().Services; len(got) != 1 || got[0].Name != "hello" {
		t.Errorf("services restored: %+v, want hello", got)
	}
	runUntil(t, p)()
}
