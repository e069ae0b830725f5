package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servekit/servekit/serving/runtime/local"
)

func TestLoadConfig(t *testing.T) {
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
	pc, err := loadConfig(dir, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if pc.autoscaler.StableWindow != 6*time.Second || pc.autoscaler.ScaleToZeroGracePeriod != time.Second {
		t.Errorf("autoscaler = %v window, %v grace; want 6s, 1s", pc.autoscaler.StableWindow, pc.autoscaler.ScaleToZeroGracePeriod)
	}
	if !pc.network.TagHeaderRouting {
		t.Error("config-features tag-header-based-routing not applied")
	}
	if got := pc.network.Domain(nil); got != "knative.dev" {
		t.Errorf("domain = %q, want knative.dev from config-domain (over --domain)", got)
	}
	if pc2, err := loadConfig("", "internal.test"); err != nil || pc2.network.Domain(nil) != "internal.test" {
		t.Errorf("--domain internal.test with no config: %v, %v", pc2.network.Domain(nil), err)
	}
}

func TestLoadConfigErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"bad value", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-autoscaler\ndata:\n  stable-window: \"2s\"\n", "stable-window"},
		{"unknown map", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-nope\n", `metadata.name: "config-nope"`},
		{"not a config map", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: config-gc\n", `kind: "Secret"`},
		{"bad gc", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-gc\ndata:\n  min-non-active-revisions: \"-5\"\n", "min-non-active-revisions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := loadConfig(dir, "example.com")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("loadConfig = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// The image map shipped next to the binary parses, and keeps the seed's image on
// the helloworld sample.
func TestShippedImageMap(t *testing.T) {
	data, err := os.ReadFile("imagemap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := local.ParseImageMap(data, ".")
	if err != nil {
		t.Fatal(err)
	}
	if got := m[local.SeedImage]; len(got) != 1 || got[0] != "builtin:helloworld" {
		t.Errorf("seed image maps to %q, want builtin:helloworld", got)
	}
}
