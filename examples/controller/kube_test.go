package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
)

const testKubeconfig = `apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: ca.crt
    tls-server-name: kubernetes
contexts:
- name: dev
  context: {cluster: c, user: u}
- name: other
  context: {cluster: missing, user: u}
users:
- name: u
  user:
    token: s3cret
    client-certificate: /abs/client.crt
    client-key-data: a2V5
`

func TestParseKubeconfig(t *testing.T) {
	got, err := parseKubeconfig([]byte(testKubeconfig), "/home/me/.kube")
	if err != nil {
		t.Fatal(err)
	}
	want := &rest.Config{
		Host:        "https://127.0.0.1:6443",
		BearerToken: "s3cret",
		TLSClientConfig: rest.TLSClientConfig{
			ServerName: "kubernetes",
			CAFile:     "/home/me/.kube/ca.crt",
			CertFile:   "/abs/client.crt",
			KeyData:    []byte("key"),
		},
	}
	if diff := cmp.Diff(want.String(), got.String()); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if string(got.KeyData) != "key" || got.BearerToken != "s3cret" {
		t.Errorf("key data %q, token %q", got.KeyData, got.BearerToken)
	}
}

func TestParseKubeconfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not yaml", "{", "--kubeconfig"},
		{"no such context", strings.Replace(testKubeconfig, "current-context: dev", "current-context: nope", 1), `current-context "nope": no such context`},
		{"no such cluster", strings.Replace(testKubeconfig, "current-context: dev", "current-context: other", 1), `cluster "missing": no such cluster`},
		{"no server", strings.Replace(testKubeconfig, "server: https://127.0.0.1:6443", "server: ''", 1), `clusters["c"].server: empty`},
		{"exec plugin", strings.Replace(testKubeconfig, "    token: s3cret", "    exec: {command: gke-gcloud-auth-plugin, apiVersion: client.authentication.k8s.io/v1beta1}", 1), `users["u"]: exec and auth-provider plugins are not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseKubeconfig([]byte(tc.data), "/x")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseKubeconfig = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func FuzzParseKubeconfig(f *testing.F) {
	f.Add([]byte(testKubeconfig))
	f.Add([]byte("apiVersion: v1\nkind: Config\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseKubeconfig(data, "/x")
		if err == nil && cfg.Host == "" {
			t.Errorf("accepted a kubeconfig without a server: %q", data)
		}
	})
}

func TestRunKubeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing kubeconfig", []string{"--kubeconfig", filepath.Join(dir, "nope")}, "--kubeconfig"},
		{"no queue image", []string{"--kubeconfig", kc, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, "--queue-image: required"},
		{"bad listen", []string{"--kubeconfig", kc, "--queue-image", "q", "--listen", "nope", "--admin", "127.0.0.1:0"}, "--listen"},
		{"peers without pod IP", []string{"--kubeconfig", kc, "--queue-image", "q", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--peers-service", "servekit-peers"}, "--pod-ip: required with --peers-service"},
		{"peers without token", []string{"--kubeconfig", kc, "--queue-image", "q", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--peers-service", "servekit-peers", "--pod-ip", "10.0.0.1", "--peer-token-secret", ""}, "--peer-token-secret: required with --peers-service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("run(%q) = %d, stderr %q; want 1 and %q", tc.args, code, errOut.String(), tc.want)
			}
		})
	}
}
