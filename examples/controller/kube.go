package main

// Cluster mode: --kubeconfig FILE (or --kubeconfig=in-cluster inside a pod) runs the
// same controller, ingress, activator and autoscaler as local mode, with the
// Kubernetes backend (serving/runtime/kube: Deployments, EndpointSlices, the scale
// subresource) instead of local processes, and the API server (serving/runtime/kube/
// store) instead of the manifests directory. Only the replica holding the Lease
// (serving/runtime/kube/leader) runs the controller; the others serve /healthz,
// answer /readyz with 503 and wait. A replica that loses the Lease exits 1 so that
// Kubernetes restarts it as a fresh candidate (a Controller runs once).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.opencensus.io/stats/view"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/tools/clientcmd/api/latest"

	"github.com/servekit/servekit/examples/internal/promtext"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime/kube"
	"github.com/servekit/servekit/serving/runtime/kube/leader"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// InClusterKubeconfig is the --kubeconfig value that uses the pod's service account.
const InClusterKubeconfig = "in-cluster"

// kubeOptions are the cluster-mode flags.
type kubeOptions struct {
	kubeconfig     string // --kubeconfig: a file, or "in-cluster"
	namespace      string // --namespace: watch only this namespace; empty = all
	queueImage     string // --queue-image
	leaseNamespace string // --lease-namespace
	leaseName      string // --lease-name
	identity       string // --identity; empty = hostname
}

// restConfig returns the client configuration of --kubeconfig.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == InClusterKubeconfig {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig=in-cluster: %w", err)
		}
		return cfg, nil
	}
	data, err := os.ReadFile(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	return parseKubeconfig(data, filepath.Dir(kubeconfig))
}

// parseKubeconfig turns a kubeconfig's current context into a client configuration:
// server, CA, client certificate and key, bearer token (inline or as files, relative
// to dir). Exec and auth-provider plugins are not supported (client-go's clientcmd,
// which runs them, would add dependencies this module does not carry); use a token or
// certificate kubeconfig, e.g. `kubectl create token` for a service account.
func parseKubeconfig(data []byte, dir string) (*rest.Config, error) {
	obj, err := runtime.Decode(latest.Codec, data)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	kc, ok := obj.(*clientcmdapi.Config)
	if !ok {
		return nil, fmt.Errorf("--kubeconfig: not a kubeconfig (%T)", obj)
	}
	ctxName := kc.CurrentContext
	kctx := kc.Contexts[ctxName]
	if kctx == nil {
		return nil, fmt.Errorf("--kubeconfig: current-context %q: no such context", ctxName)
	}
	cluster := kc.Clusters[kctx.Cluster]
	if cluster == nil {
		return nil, fmt.Errorf("--kubeconfig: context %q: cluster %q: no such cluster", ctxName, kctx.Cluster)
	}
	if cluster.Server == "" {
		return nil, fmt.Errorf("--kubeconfig: clusters[%q].server: empty", kctx.Cluster)
	}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	cfg := &rest.Config{
		Host: cluster.Server,
		TLSClientConfig: rest.TLSClientConfig{
			Insecure:   cluster.InsecureSkipTLSVerify,
			ServerName: cluster.TLSServerName,
			CAFile:     rel(cluster.CertificateAuthority),
			CAData:     cluster.CertificateAuthorityData,
		},
	}
	if kctx.AuthInfo != "" {
		user := kc.AuthInfos[kctx.AuthInfo]
		if user == nil {
			return nil, fmt.Errorf("--kubeconfig: context %q: user %q: no such user", ctxName, kctx.AuthInfo)
		}
		if user.Exec != nil || user.AuthProvider != nil {
			return nil, fmt.Errorf("--kubeconfig: users[%q]: exec and auth-provider plugins are not supported; use a token or client certificate", kctx.AuthInfo)
		}
		cfg.BearerToken = user.Token
		cfg.BearerTokenFile = rel(user.TokenFile)
		cfg.Username, cfg.Password = user.Username, user.Password
		cfg.CertFile, cfg.CertData = rel(user.ClientCertificate), user.ClientCertificateData
		cfg.KeyFile, cfg.KeyData = rel(user.ClientKey), user.ClientKeyData
	}
	return cfg, nil
}

// runKube runs the platform in cluster mode until ctx is done. The listeners are
// bound already.
func runKube(ctx context.Context, o options, ko kubeOptions, cfg *rest.Config, ingressLn, adminLn net.Listener) error {
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if ko.queueImage == "" {
		return errors.New("--queue-image: required with --kubeconfig (the queue proxy sidecar's image, built from examples/queue-proxy)")
	}
	if ko.identity == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("--identity: empty and no hostname: %w", err)
		}
		ko.identity = h
	}
	pc, err := loadConfig(o.configDir, o.domain)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	kb, err := kube.New(kube.Options{Client: cs, Namespace: ko.namespace, QueueImage: ko.queueImage, Logger: log})
	if err != nil {
		return err
	}
	backend := store.NewBackend(kb)
	actMetrics := activatorMetrics
	views := append(append([]*view.View(nil), metricViews...), actMetrics.Views()...)
	if err := view.Register(views...); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	defer view.Unregister(views...)
	ctrl, err := controller.New(controller.Options{
		Backend:        backend,
		Logger:         log,
		Defaults:       &pc.defaults,
		Autoscaler:     &pc.autoscaler,
		Network:        &pc.network,
		GC:             &pc.gc,
		Reporter:       ocReporter{},
		ActivatorHooks: actMetrics.Hooks(),
		// Revision names follow the API server's Configuration generations, so
		// they survive restarts and leader changes (see docs/kubernetes-cluster.md).
		SourceGenerations: true,
	})
	if err != nil {
		return err
	}
	st, err := store.New(store.Options{Client: dyn, Controller: ctrl, Backend: backend, Namespace: ko.namespace, Logger: log})
	if err != nil {
		return err
	}

	var leading atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/status", ctrl.StatusHandler())
	mux.Handle("/metrics", promtext.Handler(views...))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !leading.Load() {
			http.Error(w, "standby: not the leader", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	ingress := &http.Server{Handler: ctrl.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	admin := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	log.Info("servekit: cluster mode", "server", cfg.Host, "namespace", ko.namespace, "identity", ko.identity,
		"ingress", ingressLn.Addr().String(), "admin", adminLn.Addr().String())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve(ingress, ingressLn) })
	g.Go(func() error { return serve(admin, adminLn) })
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), o.drainTimeout)
		defer cancel()
		err := ingress.Shutdown(sctx)
		if aerr := admin.Shutdown(sctx); err == nil {
			err = aerr
		}
		return err
	})
	g.Go(func() error {
		err := leader.Run(gctx, leader.Options{
			Client: cs, Namespace: ko.leaseNamespace, Name: ko.leaseName, Identity: ko.identity, Logger: log,
		}, func(lctx context.Context) error {
			leading.Store(true)
			defer leading.Store(false)
			lg, lgctx := errgroup.WithContext(lctx)
			lg.Go(func() error { return ctrl.Run(lgctx) })
			lg.Go(func() error { return st.Run(lgctx) })
			return lg.Wait()
		})
		if err != nil {
			return err
		}
		return gctx.Err() // leadership ended: stop serving too
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil // a clean shutdown
	}
	log.Info("servekit: stopped")
	return err
}

// runKubeMain is run's cluster-mode branch: it returns the exit status.
func runKubeMain(ctx context.Context, o options, ko kubeOptions, stderr io.Writer) int {
	if o.drainTimeout <= 0 {
		o.drainTimeout = 30 * time.Second
	}
	cfg, err := restConfig(ko.kubeconfig)
	if err != nil {
		fmt.Fprintln(stderr, "controller:", err)
		return 1
	}
	ingressLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		fmt.Fprintln(stderr, "controller: --listen:", err)
		return 1
	}
	defer ingressLn.Close()
	adminLn, err := net.Listen("tcp", o.admin)
	if err != nil {
		fmt.Fprintln(stderr, "controller: --admin:", err)
		return 1
	}
	defer adminLn.Close()
	if err := runKube(ctx, o, ko, cfg, ingressLn, adminLn); err != nil {
		fmt.Fprintln(stderr, "controller:", err)
		return 1
	}
	return 0
}
