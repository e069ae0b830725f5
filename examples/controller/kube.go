package main

// Cluster mode: --kubeconfig FILE (or --kubeconfig=in-cluster inside a pod) runs the
// same controller, ingress, activator and autoscaler as local mode, with the
// Kubernetes backend (serving/runtime/kube: Deployments, EndpointSlices, the scale
// subresource) instead of local processes, and the API server (serving/runtime/kube/
// store) instead of the manifests directory. Every replica runs the whole platform
// and serves the ingress; only the replica holding the Lease (serving/runtime/kube/
// leader) writes to the API server: children, statuses, Deployments, scale. The
// others follow: they read the same objects, compute the same routes, see the same
// pods, and forward their activators' demand to every peer (peers.go). A replica
// that loses the Lease exits 1 so that Kubernetes restarts it as a fresh follower.

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

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/tools/clientcmd/api/latest"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving/config"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/controller/ocmetrics"
	"github.com/servekit/servekit/serving/platform/peers"
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
	podIP          string // --pod-ip: this replica's address among its peers
	peersService   string // --peers-service: headless Service listing the replicas; empty = alone
	peerSecret     string // --peer-token-secret: Secret (in --lease-namespace) of the peer token; empty = none
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
	if ko.peersService != "" && ko.podIP == "" {
		return errors.New("--pod-ip: required with --peers-service (this replica's address among its peers, e.g. $(POD_IP))")
	}
	if ko.peersService != "" && ko.peerSecret == "" {
		return errors.New("--peer-token-secret: required with --peers-service (the replicas accept each other's reports only with the peer token)")
	}
	if ko.identity == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("--identity: empty and no hostname: %w", err)
		}
		ko.identity = h
	}
	pc, err := config.LoadDir(o.configDir, o.domain)
	if err != nil {
		return err
	}
	if cfg.QPS == 0 && cfg.Burst == 0 {
		// client-go's default (5 requests/s, bursts of 10) would make a new leader
		// take minutes to adopt a few hundred revisions (about 5 calls each).
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = 50, 100
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	var token string
	var tokenRef *corev1.SecretKeySelector
	if ko.peerSecret != "" {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		token, err = peers.Token(tctx, cs, ko.leaseNamespace, ko.peerSecret)
		cancel()
		if err != nil {
			return err
		}
		tokenRef = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: ko.peerSecret}, Key: peers.TokenKey}
	}
	kopts := kube.Options{
		Client: cs, Namespace: ko.namespace, QueueImage: ko.queueImage, Logger: log,
		PeerToken: token, PeerTokenSecret: tokenRef,
		Follower: true, // until this replica holds the Lease
	}
	var peerTransport http.RoundTripper // nil: http.DefaultTransport
	if o.dial != nil {
		tr := &http.Transport{DialContext: o.dial}
		defer tr.CloseIdleConnections()
		kopts.StatsClient = autoscaler.HTTPStatsClient{Client: &http.Client{Transport: tr}}
		peerTransport = tr
	}
	kb, err := kube.New(kopts)
	if err != nil {
		return err
	}
	backend := store.NewBackend(kb)
	metrics, err := metricsHandler()
	if err != nil {
		return err
	}
	actMetrics := activatorMetrics
	var pr *peers.Peers
	ctrlOpts := controller.Options{
		Backend:        backend,
		Logger:         log,
		Defaults:       &pc.Defaults,
		Autoscaler:     &pc.Autoscaler,
		Network:        &pc.Network,
		GC:             &pc.GC,
		Reporter:       ocmetrics.Reporter{},
		ActivatorHooks: actMetrics.Hooks(),
		PeerToken:      token,
		DialContext:    o.dial,
		// Revision names follow the API server's Configuration generations, so
		// they survive restarts and leader changes (see docs/kubernetes-cluster.md).
		SourceGenerations: true,
	}
	if ko.peersService != "" {
		ctrlOpts.OnActivatorStat = func(ns, name string, conc, reqs float64) { pr.Observe(ns, name, conc, reqs) }
	}
	ctrl, err := controller.New(ctrlOpts)
	if err != nil {
		return err
	}
	if ko.peersService != "" {
		_, port, err := net.SplitHostPort(adminLn.Addr().String())
		if err != nil {
			return fmt.Errorf("--admin: %w", err)
		}
		pr = peers.New(peers.Options{Self: net.JoinHostPort(ko.podIP, port), Token: token, Recorder: ctrl, Logger: log, Transport: peerTransport})
	}
	st, err := store.New(store.Options{
		Client: dyn, Controller: ctrl, Backend: backend, Namespace: ko.namespace, Logger: log,
		Follower: true, // until this replica holds the Lease
	})
	if err != nil {
		return err
	}

	var leading, synced atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/status", ctrl.StatusHandler())
	mux.Handle("/metrics", metrics)
	if pr != nil {
		mux.Handle(peers.StatsPath, pr)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !synced.Load() {
			http.Error(w, "not ready: the informers have not synced", http.StatusServiceUnavailable)
			return
		}
		role := "follower"
		if leading.Load() {
			role = "leader"
		}
		_, _ = io.WriteString(w, "ok "+role+"\n")
	})
	ingress := &http.Server{Handler: ctrl.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	admin := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	log.Info("servekit: cluster mode", "server", cfg.Host, "namespace", ko.namespace, "identity", ko.identity,
		"ingress", ingressLn.Addr().String(), "admin", adminLn.Addr().String(), "peers", ko.peersService, "peerToken", token != "")

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
	g.Go(func() error { return ctrl.Run(gctx) })
	g.Go(func() error { return st.Run(gctx) })
	g.Go(func() error {
		// Ready once the store's informers hold the API server's objects (a
		// follower then routes what the leader routes).
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for !st.HasSynced() {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
			}
		}
		synced.Store(true)
		return nil
	})
	if pr != nil {
		g.Go(func() error { return pr.Run(gctx) })
		g.Go(func() error { return peers.Watch(gctx, cs, ko.leaseNamespace, ko.peersService, pr) })
	}
	g.Go(func() error {
		err := leader.Run(gctx, leader.Options{
			Client: cs, Namespace: ko.leaseNamespace, Name: ko.leaseName, Identity: ko.identity, Logger: log,
		}, func(lctx context.Context) error {
			leading.Store(true)
			log.Info("servekit: leading: writing to the API server", "identity", ko.identity)
			st.SetLeader(true)
			kb.SetLeader(true)
			<-lctx.Done()
			st.SetLeader(false)
			kb.SetLeader(false)
			leading.Store(false)
			return nil
		})
		if err != nil {
			return err
		}
		return gctx.Err() // ctx is done: stop serving too
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

// serve is Serve that treats a shutdown as success.
func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
