package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("run(%q) = %d, stderr %q; want 1 and %q", tc.args, code, errOut.String(), tc.want)
			}
		})
	}
}
