package v1_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

// BenchmarkAdmit measures decode + default + validate of the seed
// manifest: the cost of admitting one Service.
func BenchmarkAdmit(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "helloworld-go.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	d := servingv1.StockDefaults()
	b.ReportAllocs()
	for b.Loop() {
		docs, err := servingv1.Decode(bytes.NewReader(data), servingv1.DecodeOptions{Strict: true})
		if err != nil || len(docs) != 1 {
			b.Fatal(docs, err)
		}
		docs[0].Object.SetDefaults(d)
		if errs := docs[0].Object.Validate(d); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkValidate measures validation alone of the defaulted seed.
func BenchmarkValidate(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "helloworld-go.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	docs, err := servingv1.Decode(bytes.NewReader(data), servingv1.DecodeOptions{Strict: true})
	if err != nil {
		b.Fatal(err)
	}
	d := servingv1.StockDefaults()
	obj := docs[0].Object
	obj.SetDefaults(d)
	b.ReportAllocs()
	for b.Loop() {
		if errs := obj.Validate(d); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}
