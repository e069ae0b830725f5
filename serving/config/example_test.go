package config_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/servekit/servekit/serving/config"
)

// LoadDir reads Knative's ConfigMaps from a directory; what it does not find keeps
// Knative's defaults.
func ExampleLoadDir() {
	dir, _ := os.MkdirTemp("", "config")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "autoscaler.yaml"), []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data:
  stable-window: "30s"
`), 0o644)

	c, err := config.LoadDir(dir, "example.com")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stable window:", c.Autoscaler.StableWindow)
	fmt.Println("target:", c.Autoscaler.ContainerConcurrencyTargetDefault)
	fmt.Println("domain:", c.Network.Domain(nil))
	// Output:
	// stable window: 30s
	// target: 100
	// domain: example.com
}
