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

// A Watcher follows a config directory: Scan (Run calls it every interval) applies a
// changed config map and hands the new Config to OnChange; a map that does not parse
// keeps its last good values and is reported to OnError with its file and key.
func ExampleWatcher() {
	dir, _ := os.MkdirTemp("", "config")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "autoscaler.yaml")
	autoscaler := func(window string) {
		_ = os.WriteFile(file, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-autoscaler\ndata:\n  stable-window: \""+window+"\"\n"), 0o644)
	}
	autoscaler("30s")

	w, c, err := config.NewWatcher(config.WatcherOptions{
		Dir: dir,
		OnChange: func(c config.Config, changed []string) {
			fmt.Println("changed:", changed, "stable window:", c.Autoscaler.StableWindow)
		},
		OnError: func(file string, err error) { fmt.Println("error in", filepath.Base(file)+":", err != nil) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stable window:", c.Autoscaler.StableWindow)
	autoscaler("45s")
	w.Scan()
	autoscaler("2s") // below the 6s minimum: kept at 45s
	w.Scan()
	fmt.Println("in effect:", w.Config().Autoscaler.StableWindow)
	autoscaler("50s")
	w.Scan()
	// Output:
	// stable window: 30s
	// changed: [config-autoscaler] stable window: 45s
	// error in autoscaler.yaml: true
	// in effect: 45s
	// changed: [config-autoscaler] stable window: 50s
	// error in autoscaler.yaml: false
}
