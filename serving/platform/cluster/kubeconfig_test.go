package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
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
    client-certificate: CLIENT_CRT
    client-key-data: a2V5
`

// writeKubeconfig writes testKubeconfig (with edits) and the files it names into a
// new directory, and returns the kubeconfig's path.
func writeKubeconfig(t *testing.T, data string) string {
	t.Helper()
	dir := t.TempDir()
	crt := filepath.Join(dir, "abs", "client.crt")
	if err := os.MkdirAll(filepath.Dir(crt), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{crt, filepath.Join(dir, "ca.crt")} {
		if err := os.WriteFile(f, []byte("not read until a connection is made"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(data, "CLIENT_CRT", crt)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRESTConfig(t *testing.T) {
	path := writeKubeconfig(t, testKubeconfig)
	dir := filepath.Dir(path)
	got, err := RESTConfig(path, "")
	if err != nil {
		t.Fatal(err)
	}
	want := &rest.Config{
		Host:        "https://127.0.0.1:6443",
		BearerToken: "s3cret",
		TLSClientConfig: rest.TLSClientConfig{
			ServerName: "kubernetes",
			CAFile:     filepath.Join(dir, "ca.crt"),
			CertFile:   filepath.Join(dir, "abs", "client.crt"),
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

func TestRESTConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, context, want string
	}{
		{"not yaml", "{", "", "kubeconfig"},
		{"no such context", strings.Replace(testKubeconfig, "current-context: dev", "current-context: nope", 1), "", `context "nope": no such context`},
		{"no such context given", testKubeconfig, "nope", `context "nope": no such context`},
		{"no such cluster", testKubeconfig, "other", `context "other": cluster "missing": no such cluster`},
		{"no such user", strings.Replace(testKubeconfig, "- name: u\n", "- name: v\n", 1), "", `context "dev": user "u": no such user`},
		{"no server", strings.Replace(testKubeconfig, "server: https://127.0.0.1:6443", "server: ''", 1), "", `no server found for cluster "c"`},
		{"no current context", strings.Replace(testKubeconfig, "current-context: dev", "", 1), "", "no current-context"},
		{"missing CA file", strings.Replace(testKubeconfig, "ca.crt", "nope.crt", 1), "", "nope.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RESTConfig(writeKubeconfig(t, tc.data), tc.context)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cluster: kubeconfig ") {
				t.Errorf("RESTConfig = %v, want a cluster: kubeconfig error containing %q", err, tc.want)
			}
		})
	}
	if _, err := RESTConfig(filepath.Join(t.TempDir(), "nope"), ""); err == nil {
		t.Error("a missing kubeconfig file: no error")
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := RESTConfig(InCluster, ""); err == nil || !strings.Contains(err.Error(), "in-cluster") {
		t.Errorf("in-cluster outside a pod: %v, want an error", err)
	}
}

// A list of files merges as KUBECONFIG does: here the clusters and contexts are in
// one file, the users in another (and a missing file is skipped).
func TestRESTConfigList(t *testing.T) {
	path := writeKubeconfig(t, testKubeconfig)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), "users:")
	if err := os.WriteFile(path, data[:i], 0o600); err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, append([]byte("apiVersion: v1\nkind: Config\n"), data[i:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	list := strings.Join([]string{path, filepath.Join(t.TempDir(), "missing"), users}, string(filepath.ListSeparator))
	got, err := RESTConfig(list, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if got.Host != "https://127.0.0.1:6443" || got.BearerToken != "s3cret" {
		t.Errorf("merged config: host %q token %q", got.Host, got.BearerToken)
	}
}

func FuzzKubeconfig(f *testing.F) {
	f.Add([]byte(testKubeconfig))
	f.Add([]byte("apiVersion: v1\nkind: Config\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kc, err := clientcmd.Load(data)
		if err != nil {
			return
		}
		cfg, err := fromKubeconfig(kc, "")
		if err == nil && cfg.Host == "" {
			t.Errorf("accepted a kubeconfig without a server: %q", data)
		}
	})
}

// TestRealExecPlugin authenticates to a real API server through an exec credential
// plugin (as GKE's, EKS's and AKS's kubeconfigs do): a script printing an
// ExecCredential with a token the API server accepts. The current context's user
// has a wrong token; --context selects the plugin's.
func TestRealExecPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real API server")
	}
	cfg := kubetest.Start(t)
	dir := t.TempDir()
	plugin := filepath.Join(dir, "credential-plugin")
	script := "#!/bin/sh\n" + `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$PLUGIN_TOKEN"` + "\n"
	if err := os.WriteFile(plugin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["static"] = &clientcmdapi.AuthInfo{Token: "wrong"}
	kc.AuthInfos["exec"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion:      "client.authentication.k8s.io/v1",
		Command:         plugin,
		Env:             []clientcmdapi.ExecEnvVar{{Name: "PLUGIN_TOKEN", Value: cfg.BearerToken}},
		InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
	}}
	kc.Contexts["static"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "static"}
	kc.Contexts["exec"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "exec"}
	kc.CurrentContext = "static"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	list := func(contextName string) error {
		rc, err := RESTConfig(path, contextName)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
		return err
	}
	if err := list("exec"); err != nil {
		t.Errorf("as the exec plugin's user: %v", err)
	}
	if err := list(""); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("as the current context's user (a wrong token): %v, want Unauthorized", err)
	}
}
