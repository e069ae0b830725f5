package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/servekit/servekit/serving/config"
	"github.com/servekit/servekit/serving/controller/ocmetrics"
	"github.com/servekit/servekit/serving/platform"
	"github.com/servekit/servekit/serving/platform/cluster"
)

// flags is what the command line says: the options of local mode (serving/platform)
// and of cluster mode (serving/platform/cluster, with --kubeconfig).
type flags struct {
	local                   platform.Options
	cluster                 cluster.Options
	imageMap, configDir     string // --image-map, --config
	domain                  string // --domain
	kubeconfig, kubecontext string // --kubeconfig, --context
}

// run runs the platform ("controller [flags]") or reads its status
// ("controller get"). It returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "get" {
		return runGet(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f flags
	lo, co := &f.local, &f.cluster
	fs.StringVar(&lo.Manifests, "manifests", "examples/manifests", "directory of Knative manifests (serving.knative.dev/v1), watched for changes")
	fs.StringVar(&lo.StateDir, "state-dir", defaultStateDir(), "local mode: directory where Services, Revisions, Routes and their traffic are kept across restarts (one file, locked while running); empty: memory only")
	fs.StringVar(&f.imageMap, "image-map", "", "YAML file mapping container images to local commands (`image: [command, args...]`), watched: revisions created after a change use the new mapping")
	fs.StringVar(&f.configDir, "config", "", "directory of Knative config maps (config-autoscaler, config-defaults, config-network, config-domain, config-gc, config-features, config-deployment) as YAML, watched for changes in local mode (read once with --kubeconfig)")
	fs.StringVar(&f.domain, "domain", "example.com", "the domain of routes, when --config has no config-domain")
	fs.StringVar(&lo.Listen, "listen", "127.0.0.1:8080", "ingress address (routes by Host)")
	fs.StringVar(&lo.Admin, "admin", "127.0.0.1:8081", "admin address: GET /status, /metrics")
	fs.DurationVar(&lo.PollInterval, "poll", time.Second, "how often the manifests directory is scanned")
	fs.DurationVar(&lo.DrainTimeout, "drain-timeout", 30*time.Second, "how long shutdown waits for requests in flight")
	fs.IntVar(&lo.MaxHeaderBytes, "max-header-bytes", platform.DefaultMaxHeaderBytes, "the most bytes of request line and headers the ingress reads per request (431 beyond)")
	fs.StringVar(&lo.TLSListen, "tls-listen", "", "HTTPS ingress address (e.g. 127.0.0.1:8443), beside --listen: the same routing over TLS 1.2+, HTTP/1.1 and HTTP/2; needs --tls-cert and --tls-key, or --tls-dir (with --kubeconfig also the TLS Secrets DomainMappings name, spec.tls.secretName)")
	fs.StringVar(&lo.TLSCertFile, "tls-cert", "", "the HTTPS ingress's default certificate (PEM, leaf then intermediates), served to a client whose host has none in --tls-dir; watched")
	fs.StringVar(&lo.TLSKeyFile, "tls-key", "", "the private key (PEM) of --tls-cert")
	fs.StringVar(&lo.TLSDir, "tls-dir", "", "directory of per-host certificates chosen by SNI: DIR/HOST/tls.crt and DIR/HOST/tls.key (a Kubernetes TLS Secret's layout), HOST a name or a wildcard such as *.example.com; watched: a renewed certificate is served without a restart")
	fs.IntVar(&lo.MaxConns, "max-conns", platform.DefaultMaxConns, "the most connections open at once on the ingress (503 beyond); negative: no limit")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "cluster mode: a kubeconfig file (or a list, as in KUBECONFIG; exec credential plugins are run), or \"in-cluster\" for the pod's service account (see docs/kubernetes-cluster.md); --manifests and --image-map are then unused")
	fs.StringVar(&f.kubecontext, "context", "", "cluster mode: the kubeconfig context to use (default: its current-context)")
	fs.StringVar(&co.Namespace, "namespace", "", "cluster mode: watch only this namespace (default: all)")
	fs.StringVar(&co.QueueImage, "queue-image", "", "cluster mode: the queue proxy sidecar image (required)")
	fs.StringVar(&co.LeaseNamespace, "lease-namespace", "servekit", "cluster mode: namespace of the leader-election Lease")
	fs.StringVar(&co.LeaseName, "lease-name", "servekit-controller", "cluster mode: name of the leader-election Lease")
	fs.StringVar(&co.Identity, "identity", "", "cluster mode: this replica's name in the Lease (default: the hostname, i.e. the pod name)")
	fs.StringVar(&co.PodIP, "pod-ip", "", "cluster mode: this replica's IP, as its peers see it in --peers-service's endpoints (e.g. $(POD_IP))")
	fs.StringVar(&co.PeersService, "peers-service", "", "cluster mode: headless Service (in --lease-namespace) whose ready endpoints are the replicas; they share activator demand and split capacity (default: alone)")
	fs.StringVar(&co.WebhookListen, "webhook-listen", "", "cluster mode: serve the admission webhooks (Knative's defaults and validation when objects are written) over TLS on this address; without --webhook-service they are registered by URL https://ADDR, so ADDR's host must be reachable by the API server (outside a cluster: 127.0.0.1:8443); empty: no webhooks (see docs/kubernetes-cluster.md)")
	fs.StringVar(&co.WebhookService, "webhook-service", "", "cluster mode: register the webhooks by this Service (in --lease-namespace, port 443, reaching --webhook-listen), as in a pod (config/deploy: servekit-webhook)")
	fs.StringVar(&co.IngressService, "ingress-service", "", "cluster mode: the ingress's Service (in --lease-namespace; config/deploy: servekit-ingress): each Route and tag gets a placeholder Service, an ExternalName to it, so its cluster-local address resolves in the cluster; empty: none")
	fs.StringVar(&co.PeerTokenSecret, "peer-token-secret", "servekit-peer-token", "cluster mode: Secret (in --lease-namespace, key \"token\", created if missing) shared by the activators, the queue proxies and the peers; empty disables the token")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: controller [flags]            run the platform")
		fmt.Fprintln(stderr, "       controller get [--admin ADDR] show services and revisions")
		fmt.Fprintln(stderr, "       controller validate FILE...   check manifests")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "controller: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	lo.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	lo.PodOutput = stderr
	if err := f.run(ctx); err != nil {
		fmt.Fprintln(stderr, "controller:", err)
		return 1
	}
	return 0
}

// defaultStateDir is $XDG_STATE_HOME/servekit, else ~/.local/state/servekit (the
// XDG base directory default), else "" (no home: memory only).
func defaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "servekit")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "servekit")
	}
	return ""
}

// run runs the platform the flags describe until ctx is done.
func (f *flags) run(ctx context.Context) error {
	lo, co := &f.local, &f.cluster
	cfg, err := config.LoadDir(f.configDir, f.domain)
	if err != nil {
		return err
	}
	if err := f.checkTLS(); err != nil {
		return err
	}
	if f.kubeconfig != "" {
		if co.REST, err = cluster.RESTConfig(f.kubeconfig, f.kubecontext); err != nil {
			return fmt.Errorf("--kubeconfig: %w", err)
		}
		switch {
		case co.QueueImage == "":
			return errors.New("--queue-image: required with --kubeconfig (the queue proxy sidecar's image, built from examples/queue-proxy)")
		case co.PeersService != "" && co.PodIP == "":
			return errors.New("--pod-ip: required with --peers-service (this replica's address among its peers, e.g. $(POD_IP))")
		case co.PeersService != "" && co.PeerTokenSecret == "":
			return errors.New("--peer-token-secret: required with --peers-service (the replicas accept each other's reports only with the peer token)")
		case co.WebhookService != "" && co.WebhookListen == "":
			return errors.New("--webhook-listen: required with --webhook-service (the address the Service reaches, e.g. :8443)")
		case co.WebhookService == "" && co.WebhookListen != "" && !reachableHost(co.WebhookListen):
			return fmt.Errorf("--webhook-listen %q: the webhooks are registered by URL https://%s, so a host the API server can reach is required (e.g. 127.0.0.1:8443), or give --webhook-service", co.WebhookListen, co.WebhookListen)
		}
	} else {
		// Both are watched: a change takes effect without a restart.
		lo.ConfigDir, lo.Domain, lo.ImageMapFile = f.configDir, f.domain, f.imageMap
		if st, err := os.Stat(lo.Manifests); err != nil || !st.IsDir() {
			return fmt.Errorf("--manifests %q: not a directory", lo.Manifests)
		}
	}
	reporter := &ocmetrics.Reporter{}
	if lo.Metrics, err = metricsHandler(reporter); err != nil {
		return err
	}
	if lo.Ingress, err = net.Listen("tcp", lo.Listen); err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer lo.Ingress.Close()
	if lo.AdminListener, err = net.Listen("tcp", lo.Admin); err != nil {
		return fmt.Errorf("--admin: %w", err)
	}
	defer lo.AdminListener.Close()
	if lo.TLSListen != "" {
		if lo.TLSIngress, err = net.Listen("tcp", lo.TLSListen); err != nil {
			return fmt.Errorf("--tls-listen: %w", err)
		}
		defer lo.TLSIngress.Close()
	}
	lo.Config, lo.Reporter, lo.ActivatorHooks = &cfg, reporter, activatorMetrics.Hooks()
	if f.kubeconfig != "" {
		co.Config, co.Ingress, co.AdminListener, co.DrainTimeout = lo.Config, lo.Ingress, lo.AdminListener, lo.DrainTimeout
		co.Logger, co.Reporter, co.ActivatorHooks, co.Metrics = lo.Logger, lo.Reporter, lo.ActivatorHooks, lo.Metrics
		co.MaxHeaderBytes, co.MaxConns = lo.MaxHeaderBytes, lo.MaxConns
		co.TLSIngress, co.TLSCertFile, co.TLSKeyFile, co.TLSDir, co.PollInterval = lo.TLSIngress, lo.TLSCertFile, lo.TLSKeyFile, lo.TLSDir, lo.PollInterval
		c, err := cluster.New(*co)
		if err != nil {
			return err
		}
		return c.Run(ctx)
	}
	if dir, err := os.UserCacheDir(); err == nil {
		lo.CacheDir = filepath.Join(dir, "servekit", "bin")
	}
	if exe, err := os.Executable(); err == nil { // the sample app runs from this binary
		lo.Builtins = map[string][]string{"helloworld": {exe, "sample", "helloworld"}}
	}
	lo.BaseEnv = platform.BaseEnv(os.Environ())
	p, err := platform.New(*lo)
	if err != nil {
		return err
	}
	return p.Run(ctx)
}

// checkTLS checks that the HTTPS flags go together.
func (f *flags) checkTLS() error {
	lo := &f.local
	files := lo.TLSCertFile != "" || lo.TLSKeyFile != "" || lo.TLSDir != ""
	switch {
	case (lo.TLSCertFile == "") != (lo.TLSKeyFile == ""):
		return errors.New("--tls-cert and --tls-key go together (a certificate and its private key)")
	case files && lo.TLSListen == "":
		return errors.New("--tls-listen: required with --tls-cert or --tls-dir (the HTTPS ingress address, e.g. 127.0.0.1:8443)")
	case lo.TLSListen != "" && !files && f.kubeconfig == "":
		// With --kubeconfig the DomainMappings' TLS Secrets may be the only
		// certificates.
		return errors.New("--tls-listen: HTTPS needs --tls-cert and --tls-key, or --tls-dir")
	}
	return nil
}

// reachableHost reports whether addr ("host:port") names a host, not "" or an
// unspecified address such as 0.0.0.0.
func reachableHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsUnspecified()
}
