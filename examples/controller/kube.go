package main

// Cluster mode: --kubeconfig FILE (or --kubeconfig=in-cluster inside a pod) runs the
// same controller, ingress, activator and autoscaler as local mode on a Kubernetes
// cluster (serving/platform/cluster, docs/kubernetes-cluster.md). A replica that
// loses the Lease exits 1 so that Kubernetes restarts it as a fresh follower.

import (
	"context"
	"errors"
	"fmt"
	"net"

	"k8s.io/client-go/rest"

	"github.com/servekit/servekit/serving/config"
	"github.com/servekit/servekit/serving/controller/ocmetrics"
	"github.com/servekit/servekit/serving/platform/cluster"
)

// kubeOptions are the cluster-mode flags.
type kubeOptions struct {
	kubeconfig     string // --kubeconfig: files (a KUBECONFIG-style list), or "in-cluster"
	context        string // --context: the kubeconfig context; empty = its current-context
	namespace      string // --namespace: watch only this namespace; empty = all
	queueImage     string // --queue-image
	leaseNamespace string // --lease-namespace
	leaseName      string // --lease-name
	identity       string // --identity; empty = hostname
	podIP          string // --pod-ip: this replica's address among its peers
	peersService   string // --peers-service: headless Service listing the replicas; empty = alone
	peerSecret     string // --peer-token-secret: Secret (in --lease-namespace) of the peer token; empty = none
}

// runCluster runs the platform in cluster mode until ctx is done.
func runCluster(ctx context.Context, o options, ko kubeOptions) error {
	rc, err := cluster.RESTConfig(ko.kubeconfig, ko.context)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	ingress, admin, err := listen(o)
	if err != nil {
		return err
	}
	defer ingress.Close()
	defer admin.Close()
	c, err := newCluster(o, ko, rc, ingress, admin)
	if err != nil {
		return err
	}
	return c.Run(ctx)
}

// newCluster checks the cluster-mode flags and builds the replica on the bound
// listeners.
func newCluster(o options, ko kubeOptions, rc *rest.Config, ingress, admin net.Listener) (*cluster.Cluster, error) {
	switch {
	case ko.queueImage == "":
		return nil, errors.New("--queue-image: required with --kubeconfig (the queue proxy sidecar's image, built from examples/queue-proxy)")
	case ko.peersService != "" && ko.podIP == "":
		return nil, errors.New("--pod-ip: required with --peers-service (this replica's address among its peers, e.g. $(POD_IP))")
	case ko.peersService != "" && ko.peerSecret == "":
		return nil, errors.New("--peer-token-secret: required with --peers-service (the replicas accept each other's reports only with the peer token)")
	}
	cfg, err := config.LoadDir(o.configDir, o.domain)
	if err != nil {
		return nil, err
	}
	metrics, err := metricsHandler()
	if err != nil {
		return nil, err
	}
	return cluster.New(cluster.Options{
		REST: rc, Namespace: ko.namespace, QueueImage: ko.queueImage,
		LeaseNamespace: ko.leaseNamespace, LeaseName: ko.leaseName, Identity: ko.identity,
		PeersService: ko.peersService, PodIP: ko.podIP, PeerTokenSecret: ko.peerSecret, Config: &cfg,
		Ingress: ingress, AdminListener: admin, DrainTimeout: o.drainTimeout, Logger: o.logger,
		Reporter: ocmetrics.Reporter{}, ActivatorHooks: activatorMetrics.Hooks(), Metrics: metrics, DialContext: o.dial,
	})
}
