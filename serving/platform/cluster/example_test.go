package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"k8s.io/client-go/rest"

	"github.com/servekit/servekit/serving/platform/cluster"
)

// RESTConfig loads a kubeconfig as kubectl does: a file or a KUBECONFIG-style list,
// a context by name ("" for the current one), exec credential plugins.
func ExampleRESTConfig() {
	dir, _ := os.MkdirTemp("", "kube")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config")
	_ = os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
current-context: prod
clusters:
- {name: prod, cluster: {server: "https://prod.example.com"}}
- {name: staging, cluster: {server: "https://staging.example.com"}}
contexts:
- {name: prod, context: {cluster: prod, user: gke}}
- {name: staging, context: {cluster: staging, user: gke}}
users:
- name: gke
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      interactiveMode: Never
`), 0o600)

	for _, contextName := range []string{"", "staging"} {
		cfg, err := cluster.RESTConfig(path, contextName)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(cfg.Host, cfg.ExecProvider.Command)
	}
	// Output:
	// https://prod.example.com gke-gcloud-auth-plugin
	// https://staging.example.com gke-gcloud-auth-plugin
}

// New checks the options before anything else; errors name the field.
func ExampleNew() {
	_, err := cluster.New(cluster.Options{REST: &rest.Config{Host: "https://127.0.0.1:6443"}})
	fmt.Println(err)
	// Output:
	// cluster: Options.QueueImage: required (the queue proxy sidecar's image, built from examples/queue-proxy)
}

// A replica of the platform in a pod: the service account's credentials, the peers
// from a headless Service, until SIGTERM. (Compiled, not run: it needs a cluster.)
func ExampleCluster_Run() {
	run := func() error {
		cfg, err := cluster.RESTConfig(cluster.InCluster, "")
		if err != nil {
			return err
		}
		c, err := cluster.New(cluster.Options{
			REST:            cfg,
			QueueImage:      "ghcr.io/example/queue-proxy:v1",
			PeersService:    "servekit-peers",
			PodIP:           os.Getenv("POD_IP"),
			PeerTokenSecret: "servekit-peer-token",
			Listen:          ":8080",
			Admin:           ":8081",
		})
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return c.Run(ctx) // an error when this replica loses the Lease: exit, be restarted
	}
	_ = run
}
