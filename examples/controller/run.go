package main

import (
	"context"
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
	"github.com/servekit/servekit/serving/runtime/local"
)

// options is what the flags say.
type options struct {
	manifests    string        // --manifests
	imageMap     string        // --image-map
	configDir    string        // --config
	domain       string        // --domain
	listen       string        // --listen
	admin        string        // --admin
	pollInterval time.Duration // --poll
	drainTimeout time.Duration // --drain-timeout
	logger       *slog.Logger
	// dial, if not nil, makes every connection to a pod or a peer in cluster mode
	// (tests: cluster addresses mapped to loopback). Nil means a net.Dialer.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// run runs the platform ("controller [flags]") or reads its status
// ("controller get"). It returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "get" {
		return runGet(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.manifests, "manifests", "examples/manifests", "directory of Knative manifests (serving.knative.dev/v1), watched for changes")
	fs.StringVar(&o.imageMap, "image-map", "", "YAML file mapping container images to local commands (`image: [command, args...]`)")
	fs.StringVar(&o.configDir, "config", "", "directory of Knative config maps (config-autoscaler, config-defaults, config-network, config-domain, config-gc) as YAML")
	fs.StringVar(&o.domain, "domain", "example.com", "the domain of routes, when --config has no config-domain")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "ingress address (routes by Host)")
	fs.StringVar(&o.admin, "admin", "127.0.0.1:8081", "admin address: GET /status, /metrics")
	fs.DurationVar(&o.pollInterval, "poll", time.Second, "how often the manifests directory is scanned")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "how long shutdown waits for requests in flight")
	var ko kubeOptions
	fs.StringVar(&ko.kubeconfig, "kubeconfig", "", "cluster mode: a kubeconfig file (or a list, as in KUBECONFIG; exec credential plugins are run), or \"in-cluster\" for the pod's service account (see docs/kubernetes-cluster.md); --manifests and --image-map are then unused")
	fs.StringVar(&ko.context, "context", "", "cluster mode: the kubeconfig context to use (default: its current-context)")
	fs.StringVar(&ko.namespace, "namespace", "", "cluster mode: watch only this namespace (default: all)")
	fs.StringVar(&ko.queueImage, "queue-image", "", "cluster mode: the queue proxy sidecar image (required)")
	fs.StringVar(&ko.leaseNamespace, "lease-namespace", "servekit", "cluster mode: namespace of the leader-election Lease")
	fs.StringVar(&ko.leaseName, "lease-name", "servekit-controller", "cluster mode: name of the leader-election Lease")
	fs.StringVar(&ko.identity, "identity", "", "cluster mode: this replica's name in the Lease (default: the hostname, i.e. the pod name)")
	fs.StringVar(&ko.podIP, "pod-ip", "", "cluster mode: this replica's IP, as its peers see it in --peers-service's endpoints (e.g. $(POD_IP))")
	fs.StringVar(&ko.peersService, "peers-service", "", "cluster mode: headless Service (in --lease-namespace) whose ready endpoints are the replicas; they share activator demand and split capacity (default: alone)")
	fs.StringVar(&ko.peerSecret, "peer-token-secret", "servekit-peer-token", "cluster mode: Secret (in --lease-namespace, key \"token\", created if missing) shared by the activators, the queue proxies and the peers; empty disables the token")
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
	o.logger = slog.New(slog.NewTextHandler(stderr, nil))
	run := func() error { return runLocal(ctx, o, stderr) }
	if ko.kubeconfig != "" {
		run = func() error { return runCluster(ctx, o, ko) }
	}
	if err := run(); err != nil {
		fmt.Fprintln(stderr, "controller:", err)
		return 1
	}
	return 0
}

// runLocal runs the platform on the local runtime until ctx is done.
func runLocal(ctx context.Context, o options, stderr io.Writer) error {
	cfg, err := config.LoadDir(o.configDir, o.domain)
	if err != nil {
		return err
	}
	imageMap, err := loadImageMap(o.imageMap)
	if err != nil {
		return err
	}
	if st, err := os.Stat(o.manifests); err != nil || !st.IsDir() {
		return fmt.Errorf("--manifests %q: not a directory", o.manifests)
	}
	metrics, err := metricsHandler()
	if err != nil {
		return err
	}
	ingress, admin, err := listen(o)
	if err != nil {
		return err
	}
	var cacheDir string
	if dir, err := os.UserCacheDir(); err == nil {
		cacheDir = filepath.Join(dir, "servekit", "bin")
	}
	p, err := platform.New(platform.Options{
		Manifests: o.manifests, PollInterval: o.pollInterval, Config: &cfg, ImageMap: imageMap,
		CacheDir: cacheDir, BaseEnv: platform.BaseEnv(os.Environ()), PodOutput: stderr,
		Ingress: ingress, AdminListener: admin, DrainTimeout: o.drainTimeout,
		Logger: o.logger, Reporter: ocmetrics.Reporter{}, ActivatorHooks: activatorMetrics.Hooks(), Metrics: metrics,
	})
	if err != nil {
		ingress.Close()
		admin.Close()
		return err
	}
	return p.Run(ctx)
}

// listen binds --listen and --admin.
func listen(o options) (ingress, admin net.Listener, err error) {
	if ingress, err = net.Listen("tcp", o.listen); err != nil {
		return nil, nil, fmt.Errorf("--listen: %w", err)
	}
	if admin, err = net.Listen("tcp", o.admin); err != nil {
		ingress.Close()
		return nil, nil, fmt.Errorf("--admin: %w", err)
	}
	return ingress, admin, nil
}

// loadImageMap is local.DefaultImageMap with the --image-map file (if any) over it.
func loadImageMap(path string) (local.ImageMap, error) {
	m := local.DefaultImageMap()
	if path == "" {
		return m, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--image-map: %w", err)
	}
	over, err := local.ParseImageMap(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("--image-map %s: %w", path, err)
	}
	return m.Merge(over), nil
}
