package config

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// FuzzDecode: decode never panics, and what it decodes survives a round trip:
// the ConfigMaps written back as YAML decode to the same names and data. Then
// parse, which the Watcher runs on every change, never panics on them either.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-autoscaler\ndata:\n  stable-window: \"6s\"\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-domain\ndata:\n  example.org: |\n    selector:\n      app: x\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-deployment\ndata:\n  progress-deadline: 1s\n"))
	f.Add([]byte("kind: [ConfigMap\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		cms, err := decode("f.yaml", data)
		if err != nil {
			return
		}
		var out []byte
		all := map[string]map[string]string{}
		for _, cm := range cms {
			doc, err := yaml.Marshal(corev1.ConfigMap{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
				ObjectMeta: metav1.ObjectMeta{Name: cm.name}, Data: cm.data,
			})
			if err != nil {
				t.Fatalf("marshal %s: %v", cm.name, err)
			}
			out = append(append(out, doc...), "---\n"...)
			all[cm.name] = cm.data
		}
		again, err := decode("f.yaml", out)
		if err != nil {
			t.Fatalf("the round trip does not decode: %v\n%s", err, out)
		}
		if len(again) != len(cms) {
			t.Fatalf("round trip: %d config maps, want %d", len(again), len(cms))
		}
		for i := range cms {
			if again[i].name != cms[i].name || !maps.Equal(again[i].data, cms[i].data) {
				t.Fatalf("round trip of %s: %v, want %v", cms[i].name, again[i].data, cms[i].data)
			}
		}
		_, _ = parse(all, "example.com")
	})
}
