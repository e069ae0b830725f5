package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
contexts:
- name: dev
  context: {cluster: c, user: u}
users:
- name: u
  user:
    token: s3cret
`

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
		{"no such context", []string{"--kubeconfig", kc, "--context", "nope"}, `--kubeconfig: cluster: kubeconfig ` + kc + `: context "nope": no such context`},
		{"no queue image", []string{"--kubeconfig", kc, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, "--queue-image: required"},
		{"bad listen", []string{"--kubeconfig", kc, "--queue-image", "q", "--listen", "nope", "--admin", "127.0.0.1:0"}, "--listen"},
		{"peers without pod IP", []string{"--kubeconfig", kc, "--queue-image", "q", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--peers-service", "servekit-peers"}, "--pod-ip: required with --peers-service"},
		{"peers without token", []string{"--kubeconfig", kc, "--queue-image", "q", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--peers-service", "servekit-peers", "--pod-ip", "10.0.0.1", "--peer-token-secret", ""}, "--peer-token-secret: required with --peers-service"},
		{"webhook service without listen", []string{"--kubeconfig", kc, "--queue-image", "q", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--webhook-service", "servekit-webhook"}, "--webhook-listen: required with --webhook-service"},
		{"webhook URL without host", []string{"--kubeconfig", kc, "--queue-image", "q", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--webhook-listen", ":8443"}, `--webhook-listen ":8443": the webhooks are registered by URL https://:8443, so a host the API server can reach is required`},
		{"webhook URL on 0.0.0.0", []string{"--kubeconfig", kc, "--queue-image", "q", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--webhook-listen", "0.0.0.0:8443"}, `--webhook-listen "0.0.0.0:8443": the webhooks are registered by URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("run(%q) = %d, stderr %q; want 1 and %q", tc.args, code, errOut.String(), tc.want)
			}
		})
	}
}

// TestRealBinaryExecPluginKubeconfig runs cluster mode as on GKE, EKS or AKS: the
// kubeconfig's user is an exec credential plugin (a script printing an
// ExecCredential with a token the real API server accepts), the context is chosen
// with --context (the current one has no valid credential), and the clusters and
// the users are in two files given as a KUBECONFIG-style list. The replica takes the
// Lease, and stops cleanly (exit 0) when its context is cancelled.
func TestRealBinaryExecPluginKubeconfig(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real API server")
	}
	cfg := kubetest.Start(t)
	if err := kubetest.ApplyFiles(context.Background(), cfg, "../../config/deploy/00-namespace.yaml"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plugin := filepath.Join(dir, "credential-plugin")
	script := "#!/bin/sh\n" + `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$PLUGIN_TOKEN"` + "\n"
	if err := os.WriteFile(plugin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	clusters := clientcmdapi.NewConfig()
	clusters.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	clusters.Contexts["static"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "static"}
	clusters.Contexts["exec"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "exec"}
	clusters.CurrentContext = "static"
	users := clientcmdapi.NewConfig()
	users.AuthInfos["static"] = &clientcmdapi.AuthInfo{Token: "wrong"}
	users.AuthInfos["exec"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion:      "client.authentication.k8s.io/v1",
		Command:         plugin,
		Env:             []clientcmdapi.ExecEnvVar{{Name: "PLUGIN_TOKEN", Value: cfg.BearerToken}},
		InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
	}}
	for name, c := range map[string]*clientcmdapi.Config{"clusters": clusters, "users": users} {
		if err := clientcmd.WriteToFile(*c, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--kubeconfig", filepath.Join(dir, "clusters") + string(filepath.ListSeparator) + filepath.Join(dir, "users"),
			"--context", "exec", "--queue-image", "example.com/servekit/queue-proxy:v1", "--identity", "replica-0",
			"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, &logs, &logs)
	}()
	waitFor(t, "the replica to lead", 60*time.Second, func() bool {
		select {
		case c := <-code:
			t.Fatalf("run exited %d:\n%s", c, logs.String())
		default:
		}
		return strings.Contains(logs.String(), "servekit: leading")
	})
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("run = %d after cancel, want 0:\n%s", c, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("run did not stop within 60s")
	}
}
