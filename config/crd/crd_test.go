package crd_test

import (
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/config/crd"
)

// crdDoc is the part of apiextensions.k8s.io/v1 CustomResourceDefinition that the
// tests check (apiextensions-apiserver is not a dependency of the module).
type crdDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Group string `json:"group"`
		Scope string `json:"scope"`
		Names struct {
			Kind       string   `json:"kind"`
			ListKind   string   `json:"listKind"`
			Plural     string   `json:"plural"`
			Singular   string   `json:"singular"`
			ShortNames []string `json:"shortNames"`
			Categories []string `json:"categories"`
		} `json:"names"`
		Versions []struct {
			Name                     string   `json:"name"`
			Served                   bool     `json:"served"`
			Storage                  bool     `json:"storage"`
			AdditionalPrinterColumns []column `json:"additionalPrinterColumns"`
			Subresources             struct {
				Status *struct{} `json:"status"`
			} `json:"subresources"`
			Schema struct {
				OpenAPIV3Schema schema `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

type column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	JSONPath string `json:"jsonPath"`
}

type schema struct {
	Type       string            `json:"type"`
	Properties map[string]schema `json:"properties"`
	Items      *schema           `json:"items"`
	Required   []string          `json:"required"`
	ListType   string            `json:"x-kubernetes-list-type"`
	ListKeys   []string          `json:"x-kubernetes-list-map-keys"`
}

// path walks properties (and array items for "[]") from s.
func (s schema) path(t *testing.T, steps ...string) schema {
	t.Helper()
	cur := s
	for i, step := range steps {
		if step == "[]" {
			if cur.Items == nil {
				t.Fatalf("%s is not an array", strings.Join(steps[:i], "."))
			}
			cur = *cur.Items
			continue
		}
		next, ok := cur.Properties[step]
		if !ok {
			t.Fatalf("schema has no %s (have %v)", strings.Join(steps[:i+1], "."), keys(cur.Properties))
		}
		cur = next
	}
	return cur
}

func keys(m map[string]schema) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func load(t *testing.T) map[string]crdDoc {
	t.Helper()
	files, err := fs.Glob(crd.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]crdDoc{}
	for _, f := range files {
		b, err := fs.ReadFile(crd.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		var d crdDoc
		if err := yaml.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.Kind != "CustomResourceDefinition" || d.APIVersion != "apiextensions.k8s.io/v1" {
			t.Fatalf("%s: got %s %s, want apiextensions.k8s.io/v1 CustomResourceDefinition", f, d.APIVersion, d.Kind)
		}
		if want := "serving.knative.dev_" + d.Spec.Names.Plural + ".yaml"; f != want {
			t.Errorf("file %s holds %s, want it named %s", f, d.Metadata.Name, want)
		}
		out[d.Spec.Names.Kind] = d
	}
	return out
}

func TestCRDNames(t *testing.T) {
	type names struct {
		Name, Group, Scope, ListKind, Plural, Singular string
		ShortNames, Categories                         []string
	}
	cats := []string{"all", "knative", "serving"}
	want := map[string]names{
		"Service":       {"services.serving.knative.dev", "serving.knative.dev", "Namespaced", "ServiceList", "services", "service", []string{"kservice", "ksvc"}, cats},
		"Configuration": {"configurations.serving.knative.dev", "serving.knative.dev", "Namespaced", "ConfigurationList", "configurations", "configuration", []string{"config", "cfg", "kcfg"}, cats},
		"Revision":      {"revisions.serving.knative.dev", "serving.knative.dev", "Namespaced", "RevisionList", "revisions", "revision", []string{"rev"}, cats},
		"Route":         {"routes.serving.knative.dev", "serving.knative.dev", "Namespaced", "RouteList", "routes", "route", []string{"rt"}, cats},
		"DomainMapping": {"domainmappings.serving.knative.dev", "serving.knative.dev", "Namespaced", "DomainMappingList", "domainmappings", "domainmapping", []string{"dm"}, cats},
	}
	got := map[string]names{}
	for kind, d := range load(t) {
		n := d.Spec.Names
		got[kind] = names{d.Metadata.Name, d.Spec.Group, d.Spec.Scope, n.ListKind, n.Plural, n.Singular, n.ShortNames, n.Categories}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CRD names (-want +got):\n%s", diff)
	}
}

func TestCRDVersions(t *testing.T) {
	for kind, d := range load(t) {
		t.Run(kind, func(t *testing.T) {
			want := "v1"
			if kind == "DomainMapping" {
				want = "v1beta1" // Knative's only DomainMapping version
			}
			if len(d.Spec.Versions) != 1 {
				t.Fatalf("got %d versions, want only %s", len(d.Spec.Versions), want)
			}
			v := d.Spec.Versions[0]
			if v.Name != want || !v.Served || !v.Storage {
				t.Errorf("version %q served=%v storage=%v, want %s served and stored", v.Name, v.Served, v.Storage, want)
			}
			if v.Subresources.Status == nil {
				t.Error("no status subresource: the controller writes status through /status")
			}
		})
	}
}

func TestCRDPrinterColumns(t *testing.T) {
	ready := column{"Ready", "string", ".status.conditions[?(@.type=='Ready')].status"}
	reason := column{"Reason", "string", ".status.conditions[?(@.type=='Ready')].reason"}
	created := column{"LatestCreated", "string", ".status.latestCreatedRevisionName"}
	latest := column{"LatestReady", "string", ".status.latestReadyRevisionName"}
	url := column{"URL", "string", ".status.url"}
	want := map[string][]column{
		// What `kubectl get ksvc` prints: NAME URL LATESTCREATED LATESTREADY READY REASON.
		"Service":       {url, created, latest, ready, reason},
		"Configuration": {created, latest, ready, reason},
		"Revision": {
			{"Config Name", "string", `.metadata.labels['serving\.knative\.dev/configuration']`},
			{"Generation", "string", `.metadata.labels['serving\.knative\.dev/configurationGeneration']`},
			ready, reason,
			{"Actual Replicas", "integer", ".status.actualReplicas"},
			{"Desired Replicas", "integer", ".status.desiredReplicas"},
		},
		"Route":         {url, ready, reason},
		"DomainMapping": {url, ready, reason},
	}
	got := map[string][]column{}
	for kind, d := range load(t) {
		for _, v := range d.Spec.Versions {
			got[kind] = v.AdditionalPrinterColumns
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("printer columns (-want +got):\n%s", diff)
	}
}

// TestCRDSchema checks the fields a manifest and the controller rely on survive the
// API server's pruning: anything missing from the schema would be dropped silently.
func TestCRDSchema(t *testing.T) {
	docs := load(t)
	root := func(kind string) schema { return docs[kind].Spec.Versions[0].Schema.OpenAPIV3Schema }
	tests := []struct {
		name string
		kind string
		path []string
		want string // the schema type
	}{
		{"ksvc template annotations (autoscaling.knative.dev/target)", "Service", []string{"spec", "template", "metadata", "annotations"}, "object"},
		{"ksvc template labels", "Service", []string{"spec", "template", "metadata", "labels"}, "object"},
		{"ksvc template name", "Service", []string{"spec", "template", "metadata", "name"}, "string"},
		{"ksvc container image", "Service", []string{"spec", "template", "spec", "containers", "[]", "image"}, "string"},
		{"ksvc container env", "Service", []string{"spec", "template", "spec", "containers", "[]", "env", "[]", "value"}, "string"},
		{"ksvc containerConcurrency", "Service", []string{"spec", "template", "spec", "containerConcurrency"}, "integer"},
		{"ksvc timeoutSeconds", "Service", []string{"spec", "template", "spec", "timeoutSeconds"}, "integer"},
		{"ksvc traffic percent", "Service", []string{"spec", "traffic", "[]", "percent"}, "integer"},
		{"ksvc traffic tag", "Service", []string{"spec", "traffic", "[]", "tag"}, "string"},
		{"ksvc status url", "Service", []string{"status", "url"}, "string"},
		{"ksvc status latestReadyRevisionName", "Service", []string{"status", "latestReadyRevisionName"}, "string"},
		{"ksvc status condition reason", "Service", []string{"status", "conditions", "[]", "reason"}, "string"},
		{"ksvc status address url", "Service", []string{"status", "address", "url"}, "string"},
		{"kcfg template", "Configuration", []string{"spec", "template", "spec", "containers"}, "array"},
		{"rev containers", "Revision", []string{"spec", "containers", "[]", "ports", "[]", "containerPort"}, "integer"},
		{"rev readiness probe", "Revision", []string{"spec", "containers", "[]", "readinessProbe", "httpGet", "path"}, "string"},
		{"rev status actualReplicas", "Revision", []string{"status", "actualReplicas"}, "integer"},
		{"rev status containerStatuses", "Revision", []string{"status", "containerStatuses", "[]", "imageDigest"}, "string"},
		{"rt traffic revisionName", "Route", []string{"spec", "traffic", "[]", "revisionName"}, "string"},
		{"rt traffic configurationName", "Route", []string{"spec", "traffic", "[]", "configurationName"}, "string"},
		{"rt status traffic url", "Route", []string{"status", "traffic", "[]", "url"}, "string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := root(tt.kind).path(t, tt.path...).Type; got != tt.want {
				t.Errorf("%s %s has type %q, want %q", tt.kind, strings.Join(tt.path, "."), got, tt.want)
			}
		})
	}
}

// TestContainerNameOptional: the seed manifest's container has no name (Knative's
// webhook names it user-container), so the schema must not require one.
func TestContainerNameOptional(t *testing.T) {
	docs := load(t)
	paths := map[string][]string{
		"Service":       {"spec", "template", "spec"},
		"Configuration": {"spec", "template", "spec"},
		"Revision":      {"spec"},
	}
	for kind, p := range paths {
		for _, list := range []string{"containers", "initContainers"} {
			t.Run(kind+"/"+list, func(t *testing.T) {
				s := docs[kind].Spec.Versions[0].Schema.OpenAPIV3Schema.path(t, append(p, list)...)
				if s.ListType != "atomic" || len(s.ListKeys) != 0 {
					t.Errorf("list type %q keys %v, want atomic (a map list needs its key)", s.ListType, s.ListKeys)
				}
				for _, r := range s.Items.Required {
					if r == "name" {
						t.Error("name is required")
					}
				}
				if s.Items.Properties["image"].Type != "string" {
					t.Error("container schema lost its fields")
				}
			})
		}
	}
}
