package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

const seed = "../manifests/helloworld-go.yaml"

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const badService = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: Hello
spec:
  template:
    spec:
      containerConcurrency: -1
      containers:
        - image: ghcr.io/servekit/hello:v1
  traffic:
    - percent: 90
`

const goodRoute = `apiVersion: serving.knative.dev/v1
kind: Route
metadata:
  name: hello
spec:
  traffic:
    - configurationName: hello
      percent: 100
`

func TestRunValidate(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", badService)
	malformed := writeFile(t, dir, "malformed.yaml", "apiVersion: serving.knative.dev/v1\nkind: [Service\n")
	multi := writeFile(t, dir, "multi.yaml", goodRoute+"---\napiVersion: apps/v1\nkind: Deployment\n---\n"+
		strings.Replace(goodRoute, "percent: 100", "percent: 10", 1))
	unknownField := writeFile(t, dir, "unknown.yaml", goodRoute+"  trafic: []\n")
	missing := filepath.Join(dir, "missing.yaml")
	empty := writeFile(t, dir, "empty.yaml", "# nothing here\n")
	huge := writeFile(t, dir, "huge.yaml", strings.Replace(goodRoute, "  name: hello\n",
		"  name: hello\n  annotations:\n    example.com/blob: "+strings.Repeat("x", 2<<20)+"\n", 1))

	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    []string // lines of stdout
		wantErr    string   // substring of stderr
	}{
		{name: "seed manifest is valid", args: []string{seed}, wantStatus: 0},
		{name: "errors with file and field path", args: []string{bad}, wantStatus: 1, wantOut: []string{
			bad + ": metadata.name: not a DNS 1035 label: [a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')]; got \"Hello\"",
			bad + ": spec.template.spec.containerConcurrency: expected 0 <= -1 <= 1000",
			bad + ": spec.traffic: Traffic targets sum to 90, want 100",
		}},
		{name: "valid and invalid files: only the invalid reported", args: []string{seed, bad}, wantStatus: 1, wantOut: []string{
			bad + ": metadata.name: not a DNS 1035 label: [a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')]; got \"Hello\"",
			bad + ": spec.template.spec.containerConcurrency: expected 0 <= -1 <= 1000",
			bad + ": spec.traffic: Traffic targets sum to 90, want 100",
		}},
		{name: "malformed YAML", args: []string{malformed}, wantStatus: 1, wantOut: []string{
			malformed + ": document 1: malformed YAML: yaml: line 2: did not find expected ',' or ']'",
		}},
		{name: "several documents are labelled with their index", args: []string{multi}, wantStatus: 1, wantOut: []string{
			multi + `#2: apiVersion: unsupported apiVersion "apps/v1" (kind "Deployment"): want serving.knative.dev/v1`,
			multi + "#3: spec.traffic: Traffic targets sum to 10, want 100",
		}},
		{name: "unknown field", args: []string{unknownField}, wantStatus: 1, wantOut: []string{
			unknownField + ": spec.trafic: unknown field",
		}},
		{name: "2 MB annotation", args: []string{huge}, wantStatus: 1, wantOut: []string{
			huge + ": metadata.annotations: Too long: may not be more than 262144 bytes",
		}},
		{name: "missing file", args: []string{missing}, wantStatus: 1, wantOut: []string{
			missing + ": open " + missing + ": no such file or directory",
		}},
		{name: "no objects", args: []string{empty}, wantStatus: 1, wantOut: []string{
			empty + ": no serving.knative.dev/v1 objects found",
		}},
		{name: "no files", args: nil, wantStatus: 2, wantErr: "usage: controller validate [-o yaml] FILE..."},
		{name: "unknown output", args: []string{"-o", "json", seed}, wantStatus: 2, wantErr: `-o "json": only "yaml" is supported`},
		{name: "unknown flag", args: []string{"-x", seed}, wantStatus: 2, wantErr: "flag provided but not defined: -x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := runValidate(tc.args, &stdout, &stderr)
			if status != tc.wantStatus {
				t.Errorf("status = %d, want %d (stderr %q)", status, tc.wantStatus, stderr.String())
			}
			var got []string
			if s := strings.TrimRight(stdout.String(), "\n"); s != "" {
				got = strings.Split(s, "\n")
			}
			if diff := cmp.Diff(tc.wantOut, got); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.wantErr)
			}
		})
	}
}

// TestRunValidateYAML checks that -o yaml prints the seed with the Knative
// defaults of seed-example.md.
func TestRunValidateYAML(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if status := runValidate([]string{"-o", "yaml", seed}, &stdout, &stderr); status != 0 {
		t.Fatalf("status = %d, stderr %q", status, stderr.String())
	}
	var got map[string]any
	if err := yaml.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, stdout.String())
	}
	const want = `
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: helloworld-go
spec:
  template:
    metadata:
      labels: {app: helloworld-go}
      annotations: {autoscaling.knative.dev/target: "10"}
    spec:
      containerConcurrency: 0
      timeoutSeconds: 300
      enableServiceLinks: false
      containers:
      - name: user-container
        image: registry.cn-hangzhou.aliyuncs.com/knative-sample/helloworld-go:160e4dc8
        ports: [{name: http1, containerPort: 8080, protocol: TCP}]
        env: [{name: TARGET, value: World}]
        resources: {}
        readinessProbe: {tcpSocket: {port: 0}, successThreshold: 1}
  traffic:
  - latestRevision: true
    percent: 100
status: {}
`
	var wantObj map[string]any
	if err := yaml.Unmarshal([]byte(want), &wantObj); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantObj, got); diff != "" {
		t.Errorf("-o yaml output (-want +got):\n%s", diff)
	}

	// Two files: two YAML documents.
	stdout.Reset()
	if status := runValidate([]string{"-o", "yaml", seed, seed}, &stdout, &stderr); status != 0 {
		t.Fatalf("status = %d", status)
	}
	if n := strings.Count(stdout.String(), "\n---\n"); n != 1 {
		t.Errorf("found %d document separators, want 1:\n%s", n, stdout.String())
	}
}
