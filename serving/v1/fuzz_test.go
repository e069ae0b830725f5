package v1_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

// FuzzDecodeDefaultValidate feeds arbitrary bytes through the whole
// admission path. Properties: nothing panics; every error names a field;
// defaulting is idempotent; a defaulted object survives a YAML round trip
// unchanged and validates the same way afterwards.
func FuzzDecodeDefaultValidate(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	invalid, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	valid, _ := filepath.Glob(filepath.Join("testdata", "valid", "*.yaml"))
	for _, s := range append(append(seeds, invalid...), valid...) {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Add([]byte("---\n---\napiVersion: serving.knative.dev/v1\nkind: Route\n"), false)
	f.Add([]byte("kind: [\n"), true)

	d := servingv1.StockDefaults()
	f.Fuzz(func(t *testing.T, data []byte, strict bool) {
		docs, _ := servingv1.Decode(bytes.NewReader(data), servingv1.DecodeOptions{Strict: strict})
		for _, doc := range docs {
			obj := doc.Object
			obj.SetDefaults(d)
			errs := obj.Validate(d)
			for _, e := range errs {
				if e.Field == "" || servingv1.Message(e) == "" {
					t.Errorf("error without field or message: %#v", e)
				}
			}

			again := obj.DeepCopyObject().(servingv1.Object)
			again.SetDefaults(d)
			if !apiequality.Semantic.DeepEqual(obj, again) {
				t.Errorf("SetDefaults is not idempotent for %s", data)
			}

			out, err := yaml.Marshal(obj)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			back, err := servingv1.Decode(bytes.NewReader(out), servingv1.DecodeOptions{Strict: true})
			if err != nil || len(back) != 1 {
				t.Fatalf("re-decoding %s: %d docs, %v", out, len(back), err)
			}
			if len(back[0].Object.Validate(d)) != len(errs) {
				t.Errorf("validation changed after a round trip of\n%s", out)
			}
			out2, err := yaml.Marshal(back[0].Object)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(out, out2) {
				t.Errorf("YAML round trip not stable:\n%s\n---\n%s", out, out2)
			}
		}
	})
}
