package local

import (
	"testing"

	"sigs.k8s.io/yaml"
)

// FuzzParseImageMap: any input either fails with an error or gives a map whose every
// entry has a command, and which survives a round trip through YAML unchanged.
func FuzzParseImageMap(f *testing.F) {
	for _, s := range []string{
		"a/b:1: [python3, -m, http.server]\n",
		"c: [./bin/c, -v]\n",
		"d: [\"builtin:helloworld\"]\n",
		"a: []\n", "a: 3\n", ": [x]\n", "- x\n", "a: [\"\"]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseImageMap([]byte(in), "")
		if err != nil {
			return
		}
		for image, argv := range m {
			if len(argv) == 0 || argv[0] == "" {
				t.Fatalf("image %q maps to an empty command %q", image, argv)
			}
		}
		out, err := yaml.Marshal(map[string][]string(m))
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseImageMap(out, "")
		if err != nil {
			t.Fatalf("re-parsing %q: %v", out, err)
		}
		if len(again) != len(m) {
			t.Fatalf("round trip changed the map: %v → %v", m, again)
		}
	})
}
