package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

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
	fs.StringVar(&ko.kubeconfig, "kubeconfig", "", "cluster mode: a kubeconfig file, or \"in-cluster\" for the pod's service account (see docs/kubernetes-cluster.md); --manifests and --image-map are then unused")
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
	if ko.kubeconfig != "" {
		return runKubeMain(ctx, o, ko, stderr)
	}
	o.podOutput = stderr
	if dir, err := os.UserCacheDir(); err == nil {
		o.cacheDir = filepath.Join(dir, "servekit", "bin")
	}
	o.baseEnv = baseEnv(os.Environ())
	p, err := newPlatform(o)
	if err != nil {
		fmt.Fprintln(stderr, "controller:", err)
		return 1
	}
	if err := p.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "controller:", err)
		return 1
	}
	return 0
}

// baseEnv keeps the variables a local program usually needs (so `python3 app.py`
// finds its interpreter), and nothing else of the controller's environment.
func baseEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "USER", "TZ":
			out = append(out, kv)
		}
	}
	return out
}
