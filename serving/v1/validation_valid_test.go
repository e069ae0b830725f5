package v1_test

import (
	"os"
	"path/filepath"
	"testing"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

// TestValidManifests checks that manifests Knative accepts are accepted:
// no false positives for the features the stock configuration allows.
func TestValidManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "valid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid manifests: %v", err)
	}
	files = append(files, filepath.Join("testdata", "helloworld-go.yaml"))
	d := servingv1.StockDefaults()
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			docs, err := servingv1.Decode(f, servingv1.DecodeOptions{Strict: true})
			if err != nil || len(docs) == 0 {
				t.Fatalf("Decode = %d docs, %v", len(docs), err)
			}
			for _, doc := range docs {
				doc.Object.SetDefaults(d)
				if errs := doc.Object.Validate(d); len(errs) != 0 {
					t.Errorf("document %d: Validate() = %q, want no errors", doc.Index, messages(errs))
				}
			}
		})
	}
}
