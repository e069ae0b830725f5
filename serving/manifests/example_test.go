package manifests_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/servekit/servekit/serving/manifests"
	v1 "github.com/servekit/servekit/serving/v1"
)

// printApplier prints what a Watcher asks of it, as a controller would apply it.
type printApplier struct{}

func (printApplier) Apply(source string, objs []v1.Object) error {
	fmt.Printf("apply %s: %d object(s)\n", filepath.Base(source), len(objs))
	return nil
}

func (printApplier) Reject(source string, err error) {
	fmt.Printf("reject %s\n", filepath.Base(source))
}

func (printApplier) Delete(source string) { fmt.Printf("delete %s\n", filepath.Base(source)) }

const hello = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
spec:
  template:
    spec:
      containers:
        - image: example.com/hello:v1
`

// A Watcher applies each manifest file once, again when it changes, and deletes its
// objects when it goes. Run calls Scan every interval until its context is done.
func ExampleWatcher() {
	dir, _ := os.MkdirTemp("", "manifests")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "hello.yaml")
	_ = os.WriteFile(file, []byte(hello), 0o644)

	w := manifests.NewWatcher(dir, printApplier{}, nil, 0)
	w.Scan()
	w.Scan() // unchanged: nothing to do
	_ = os.WriteFile(file, []byte(strings.Replace(hello, "hello:v1", "hello:v2", 1)), 0o644)
	w.Scan()
	_ = os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("kind: [Service\n"), 0o644)
	_ = os.Remove(file)
	w.Scan()
	// Output:
	// apply hello.yaml: 1 object(s)
	// apply hello.yaml: 1 object(s)
	// delete hello.yaml
	// reject broken.yaml
}

// ValidateFile reports every problem of a file with its field path, after
// applying Knative's defaults.
func ExampleValidateFile() {
	dir, _ := os.MkdirTemp("", "manifests")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "hello.yaml")
	_ = os.WriteFile(file, []byte(strings.Replace(hello, "    spec:\n", "    spec:\n      containerConcurrency: -1\n", 1)), 0o644)

	_, problems := manifests.ValidateFile(file, v1.StockDefaults())
	for _, p := range problems {
		fmt.Println(strings.TrimPrefix(p, dir+string(filepath.Separator)))
	}
	// Output:
	// hello.yaml: spec.template.spec.containerConcurrency: expected 0 <= -1 <= 1000
}
