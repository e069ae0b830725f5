package v1_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

const route = `apiVersion: serving.knative.dev/v1
kind: Route
metadata:
  name: hello
spec:
  traffic:
    - configurationName: hello
      percent: 100
`

const configuration = `apiVersion: serving.knative.dev/v1
kind: Configuration
metadata:
  name: hello
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/servekit/hello:v1
`

// summary renders decoded documents as "index Kind/name".
func summary(docs []servingv1.Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, strings.Join([]string{
			string(rune('0' + d.Index)), d.Object.GetObjectKind().GroupVersionKind().Kind + "/" + d.Object.GetName(),
		}, " "))
	}
	return out
}

// problems renders every field error of every DocumentError as
// "document N: path: message", and other errors as "document N: error".
func problems(err error) []string {
	var out []string
	if err == nil {
		return nil
	}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var de *servingv1.DocumentError
		if !errors.As(e, &de) {
			out = append(out, e.Error())
			continue
		}
		if len(de.Fields) == 0 {
			out = append(out, de.Error())
			continue
		}
		for _, f := range de.Fields {
			out = append(out, "document "+string(rune('0'+de.Index))+": "+f.Field+": "+servingv1.Message(f))
		}
	}
	return out
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		lenient      bool
		wantDocs     []string
		wantProblems []string
	}{{
		// A leading "---" only opens the first document (YAML semantics).
		name:     "several documents, empty ones skipped but counted",
		in:       "---\n# a comment only\n---\n" + route + "---\n\n---\n" + configuration,
		wantDocs: []string{"2 Route/hello", "4 Configuration/hello"},
	}, {
		name:     "JSON document",
		in:       `{"apiVersion":"serving.knative.dev/v1","kind":"Route","metadata":{"name":"j"}}`,
		wantDocs: []string{"1 Route/j"},
	}, {
		name:         "unknown kind names the kind and apiVersion, other documents still decoded",
		in:           "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n---\n" + route,
		wantDocs:     []string{"2 Route/hello"},
		wantProblems: []string{`document 1: apiVersion: unsupported apiVersion "apps/v1" (kind "Deployment"): want serving.knative.dev/v1`},
	}, {
		name:         "wrong kind in the serving group",
		in:           "apiVersion: serving.knative.dev/v1\nkind: PodAutoscaler\n",
		wantProblems: []string{`document 1: kind: unsupported kind "PodAutoscaler" (apiVersion "serving.knative.dev/v1"): want Service, Configuration, Revision or Route`},
	}, {
		name:         "missing kind",
		in:           "apiVersion: serving.knative.dev/v1\nmetadata: {name: x}\n",
		wantProblems: []string{"document 1: kind: missing field(s); want Service, Configuration, Revision or Route"},
	}, {
		name:         "missing apiVersion",
		in:           "kind: Service\n",
		wantProblems: []string{"document 1: apiVersion: missing field(s); want serving.knative.dev/v1"},
	}, {
		name:         "apiVersion is case sensitive",
		in:           "ApiVersion: serving.knative.dev/v1\nkind: Service\n",
		lenient:      true,
		wantProblems: []string{"document 1: apiVersion: missing field(s); want serving.knative.dev/v1"},
	}, {
		name:         "malformed YAML names the document",
		in:           route + "---\nkind: [Service\n",
		wantDocs:     []string{"1 Route/hello"},
		wantProblems: []string{"document 2: malformed YAML: yaml: line 1: did not find expected ',' or ']'"},
	}, {
		name:         "a scalar document",
		in:           "just a string\n",
		wantProblems: []string{`document 1: malformed document: want a YAML mapping with apiVersion and kind, got "just a string"`},
	}, {
		name: "strict: unknown fields reported with their paths",
		in: route + "  extra: 1\n" + "---\n" + strings.Replace(configuration, "        - image:", "        - imagee: x\n          image:", 1) +
			"      containerConcurrencyy: 3\n",
		wantProblems: []string{
			"document 1: spec.extra: unknown field",
			"document 2: spec.template.spec.containerConcurrencyy: unknown field",
			"document 2: spec.template.spec.containers[0].imagee: unknown field",
		},
	}, {
		name:     "lenient: unknown fields dropped",
		in:       route + "  extra: 1\n",
		lenient:  true,
		wantDocs: []string{"1 Route/hello"},
	}, {
		name:         "strict: duplicate fields",
		in:           "apiVersion: serving.knative.dev/v1\nkind: Route\nmetadata:\n  name: a\n  name: b\n",
		wantProblems: []string{`document 1: malformed YAML: yaml: unmarshal errors:` + "\n" + `  line 5: key "name" already set in map`},
	}, {
		name:         "wrong type names the field",
		in:           strings.Replace(configuration, "    spec:\n      containers", "    spec:\n      containerConcurrency: lots\n      containers", 1),
		wantProblems: []string{"document 1: spec.template.spec.containerConcurrency: invalid value: cannot use string as int64"},
	}, {
		name:         "YAML 1.1 boolean where a string is expected",
		in:           strings.Replace(configuration, "image: ghcr.io/servekit/hello:v1", "image: ghcr.io/servekit/hello:v1\n          env: [{name: A, value: yes}]", 1),
		wantProblems: []string{"document 1: spec.template.spec.containers.env.value: invalid value: cannot use bool as string"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := servingv1.Decode(strings.NewReader(tc.in), servingv1.DecodeOptions{Strict: !tc.lenient})
			if diff := cmp.Diff(tc.wantDocs, summary(docs)); diff != "" {
				t.Errorf("documents (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantProblems, problems(err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeUnsupportedKindIsMatchable(t *testing.T) {
	_, err := servingv1.Decode(strings.NewReader("apiVersion: v1\nkind: Pod\n"), servingv1.DecodeOptions{})
	if !errors.Is(err, servingv1.ErrUnsupportedKind) {
		t.Errorf("errors.Is(%v, ErrUnsupportedKind) = false", err)
	}
}

// TestBadInput covers the list: malformed YAML, a wrong kind, a
// missing name, a 2 MB annotation, a negative concurrency. Each gives an
// error naming the field; nothing panics.
func TestBadInput(t *testing.T) {
	svc := func(meta, spec string) string {
		return "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n" + meta +
			"spec:\n  template:\n    spec:\n" + spec + "      containers:\n        - image: ghcr.io/servekit/hello:v1\n"
	}
	tests := []struct {
		name string
		in   string
		want string // the field path of the (first) problem
	}{
		{"malformed YAML", "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: [\n", ""},
		{"wrong kind", "apiVersion: serving.knative.dev/v1\nkind: Servic\n", "kind"},
		{"missing name", svc("  labels: {a: b}\n", ""), "metadata.name"},
		{"2 MB annotation", svc("  name: hello\n  annotations:\n    example.com/blob: "+strings.Repeat("x", 2<<20)+"\n", ""), "metadata.annotations"},
		{"2 MB autoscaling annotation value", svc("  name: hello\n", "")[:0] +
			strings.Replace(svc("  name: hello\n", ""), "    spec:\n", "    metadata:\n      annotations:\n        autoscaling.knative.dev/target: "+strings.Repeat("9", 2<<20)+"x\n    spec:\n", 1),
			"spec.template.metadata.annotations.autoscaling.knative.dev/target"},
		{"negative concurrency", svc("  name: hello\n", "      containerConcurrency: -1\n"), "spec.template.spec.containerConcurrency"},
	}
	d := servingv1.StockDefaults()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := servingv1.Decode(strings.NewReader(tc.in), servingv1.DecodeOptions{Strict: true})
			var msgs []string
			if err != nil {
				var de *servingv1.DocumentError
				if !errors.As(err, &de) {
					t.Fatalf("Decode error %v is not a *DocumentError", err)
				}
				if de.Index != 1 {
					t.Errorf("DocumentError.Index = %d, want 1", de.Index)
				}
				for _, f := range de.Fields {
					msgs = append(msgs, f.Field+": "+servingv1.Message(f))
				}
				if tc.want == "" {
					if len(de.Fields) != 0 || !strings.Contains(err.Error(), "document 1: malformed YAML") {
						t.Errorf("error = %v, want a malformed YAML error for document 1", err)
					}
					return
				}
			}
			for _, doc := range docs {
				doc.Object.SetDefaults(d)
				for _, e := range doc.Object.Validate(d) {
					msgs = append(msgs, e.Field+": "+servingv1.Message(e))
				}
			}
			if len(msgs) == 0 || !strings.HasPrefix(msgs[0], tc.want+": ") {
				t.Fatalf("problems = %q, want the first at %q", msgs, tc.want)
			}
			for _, m := range msgs {
				if len(m) > 1000 {
					t.Errorf("message is %d bytes long, want the bad value shortened: %.200s...", len(m), m)
				}
			}
		})
	}
}
