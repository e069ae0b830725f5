package main

import (
	"os"
	"testing"

	"github.com/servekit/servekit/serving/runtime/local"
)

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
