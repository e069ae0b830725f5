package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/serving/config"
)

// fastConfig makes scaling visible within seconds, and enables tag header routing.
const fastConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data:
  stable-window: "6s"
  scale-to-zero-grace-period: "1s"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-features
data:
  tag-header-based-routing: "enabled"
`

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte(fastConfig+`---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-domain
data:
  knative.dev: ""
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not read"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadDir(dir, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if c.Autoscaler.StableWindow != 6*time.Second || c.Autoscaler.ScaleToZeroGracePeriod != time.Second {
		t.Errorf("autoscaler = %v window, %v grace; want 6s, 1s", c.Autoscaler.StableWindow, c.Autoscaler.ScaleToZeroGracePeriod)
	}
	if !c.Network.TagHeaderRouting {
		t.Error("config-features tag-header-based-routing not applied")
	}
	if got := c.Network.Domain(nil); got != "knative.dev" {
		t.Errorf("domain = %q, want knative.dev from config-domain (over the domain argument)", got)
	}
	if c2, err := config.LoadDir("", "internal.test"); err != nil || c2.Network.Domain(nil) != "internal.test" {
		t.Errorf("domain internal.test with no config: %v, %v", c2.Network.Domain(nil), err)
	}
}

func TestLoadDirErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"bad value", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-autoscaler\ndata:\n  stable-window: \"2s\"\n", "stable-window"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n", "document 1: metadata.name: required"},
		{"not a config map", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: config-gc\n", `kind: "Secret"`},
		{"bad gc", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-gc\ndata:\n  min-non-active-revisions: \"-5\"\n", "min-non-active-revisions"},
		{"twice", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-gc\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-gc\n", "document 2: metadata.name: config-gc given twice"},
		{"not YAML", "kind: [ConfigMap\n", "document 1"},
		{"bad progress deadline", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-deployment\ndata:\n  progress-deadline: \"1.5s\"\n", "config-deployment: progress-deadline: \"1.5s\" must be rounded to a whole second"},
		{"bad drain stream deadline", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-deployment\ndata:\n  queue-sidecar-drain-stream-deadline: \"thirty\"\n", "config-deployment: queue-sidecar-drain-stream-deadline: invalid duration \"thirty\""},
		{"negative drain stream deadline", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-deployment\ndata:\n  queue-sidecar-drain-stream-deadline: \"-1s\"\n", "config-deployment: queue-sidecar-drain-stream-deadline: \"-1s\" is not a positive duration"},
		{"negative progress deadline", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-deployment\ndata:\n  progress-deadline: \"-1s\"\n", "config-deployment: progress-deadline: \"-1s\" cannot be a non-positive duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := config.LoadDir(dir, "example.com")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadDir = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := config.LoadDir(filepath.Join(t.TempDir(), "nope"), "example.com"); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("missing directory: %v, want a config: error", err)
	}
}

// TestLoadDirIgnoresOtherKnativeMaps: Knative's whole config directory can be copied:
// ConfigMaps servekit does not use are listed in Ignored, never an error, and the
// others still apply.
func TestLoadDirIgnoresOtherKnativeMaps(t *testing.T) {
	dir := t.TempDir()
	yaml := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-observability\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-deployment\ndata:\n  progress-deadline: \"120s\"\n  queue-sidecar-drain-stream-deadline: \"45\"\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-autoscaler\ndata:\n  stable-window: \"6s\"\n"
	if err := os.WriteFile(filepath.Join(dir, "knative.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadDir(dir, "example.com")
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if diff := cmp.Diff([]string{"config-observability"}, c.Ignored); diff != "" {
		t.Errorf("Ignored (-want +got):\n%s", diff)
	}
	if c.Autoscaler.ProgressDeadline != 120*time.Second {
		t.Errorf("config-deployment progress-deadline = %v, want 120s", c.Autoscaler.ProgressDeadline)
	}
	if c.DrainStreamDeadline != 45*time.Second {
		t.Errorf("config-deployment queue-sidecar-drain-stream-deadline = %v, want 45s", c.DrainStreamDeadline)
	}
	if c2, _ := config.LoadDir("", "example.com"); c2.DrainStreamDeadline != 0 {
		t.Errorf("with no config-deployment the drain stream deadline is %v, want 0 (the revision timeout)", c2.DrainStreamDeadline)
	}
	if c.Autoscaler.StableWindow != 6*time.Second {
		t.Errorf("stable-window = %v, want 6s", c.Autoscaler.StableWindow)
	}
}
