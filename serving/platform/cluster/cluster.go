// Package cluster composes servekit into a serverless platform on a Kubernetes
// cluster: the same controller, ingress, activator and autoscaler as
// serving/platform, with the Kubernetes backend (serving/runtime/kube: Deployments,
// EndpointSlices, the scale subresource) instead of local processes, and the API
// server (serving/runtime/kube/store) instead of a manifests directory.
//
// Every replica runs the whole platform and serves the ingress; only the replica
// holding the Lease (serving/runtime/kube/leader) writes to the API server:
// children, statuses, Deployments, scale. The others follow: they read the same
// objects, compute the same routes, see the same pods, and forward their
// activators' demand to every peer (serving/platform/peers). Run returns when a
// replica loses the Lease, so that its process exits and Kubernetes restarts it as
// a fresh follower. See docs/kubernetes-cluster.md and docs/kubernetes-replicas.md.
//
// It is what `examples/controller --kubeconfig` runs; RESTConfig loads a kubeconfig
// as kubectl does.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving/config"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/ingress"
	"github.com/servekit/servekit/serving/platform/internal/serve"
	"github.com/servekit/servekit/serving/platform/peers"
	"github.com/servekit/servekit/serving/runtime/kube"
	"github.com/servekit/servekit/serving/runtime/kube/leader"
	"github.com/servekit/servekit/serving/runtime/kube/store"
	"github.com/servekit/servekit/serving/runtime/kube/webhook"
	v1 "github.com/servekit/servekit/serving/v1"
)

// EventComponent is the source component of the Events the controller records
// (kubectl describe: "From").
const EventComponent = "servekit-controller"

// Defaults of Options.
const (
	DefaultLeaseNamespace = "servekit"
	DefaultLeaseName      = "servekit-controller"
	DefaultListen         = "127.0.0.1:8080"
	DefaultAdmin          = "127.0.0.1:8081"
	DefaultDrainTimeout   = 30 * time.Second
	DefaultMaxHeaderBytes = serve.DefaultMaxHeaderBytes
	DefaultMaxConns       = serve.DefaultMaxConns
)

// Options configure a [Cluster]. REST and QueueImage are required.
type Options struct {
	// REST is the API server's client configuration (e.g. RESTConfig). If it
	// sets neither QPS nor Burst, 50 requests/s in bursts of 100 are used:
	// client-go's default (5, 10) would make a new leader take minutes to adopt a
	// few hundred revisions (about 5 calls each). Required.
	REST *rest.Config
	// Namespace restricts the platform to one namespace; "" means all.
	Namespace string
	// QueueImage is the queue proxy sidecar's image (built from
	// examples/queue-proxy). Required.
	QueueImage string
	// LeaseNamespace and LeaseName name the leader-election Lease; "" means
	// DefaultLeaseNamespace and DefaultLeaseName. The peer-token Secret and the
	// peers Service live in LeaseNamespace too.
	LeaseNamespace, LeaseName string
	// Identity is this replica's name in the Lease; "" means the hostname (in a
	// pod: the pod's name).
	Identity string
	// PeersService is the headless Service whose ready endpoints are the replicas
	// (serving/platform/peers); "" means this replica is alone.
	PeersService string
	// PodIP is this replica's IP as its peers see it in PeersService's endpoints.
	// Required with PeersService.
	PodIP string
	// PeerTokenSecret is the Secret (key peers.TokenKey, created if missing)
	// holding the token shared by the activators, the queue proxies and the
	// peers; "" means no token. Required with PeersService.
	PeerTokenSecret string
	// Config is Knative's configuration (config.LoadDir); nil means Knative's
	// defaults with routes under example.com.
	Config *config.Config

	// WebhookListen, if not "", serves the admission webhooks
	// (serving/runtime/kube/webhook: Knative's defaults, creator/lastModifier and
	// validation at admission) on this address over TLS. With WebhookService ""
	// (outside a cluster) they are registered by URL, https://WebhookListen, so
	// its host must be one the API server can reach (e.g. 127.0.0.1:8443); with
	// WebhookService (in a cluster, e.g. ":8443") by that Service in
	// LeaseNamespace, port 443. "" serves no webhook: objects are then stored
	// without Knative's defaults and invalid ones are refused only in their
	// status (see docs/kubernetes-cluster.md).
	WebhookListen, WebhookService string
	// IngressService names the ingress's Kubernetes Service in LeaseNamespace
	// (config/deploy: servekit-ingress). When set, each Route and each of its tags
	// gets a placeholder Service, an ExternalName to
	// "<IngressService>.<LeaseNamespace>.svc.cluster.local", so that its
	// cluster-local address resolves (store.Options.IngressName). "" makes none.
	IngressService string
	// WebhookListener, if not nil, is the listener to serve the webhooks on
	// instead of binding WebhookListen (Run closes it); its address is the URL's
	// when WebhookService is "".
	WebhookListener net.Listener
	// WebhookSecret names the webhooks' certificate Secret in LeaseNamespace;
	// "" means webhook.DefaultSecretName.
	WebhookSecret string

	// Ingress and AdminListener, if not nil, are the listeners to serve on (Run
	// closes them); otherwise New binds Listen and Admin ("" means
	// DefaultListen and DefaultAdmin, both on loopback).
	Ingress, AdminListener net.Listener
	Listen, Admin          string
	// DrainTimeout is how long shutdown waits for requests in flight; zero means
	// DefaultDrainTimeout.
	DrainTimeout time.Duration
	// MaxHeaderBytes bounds each request's line and headers at the ingress; a
	// request over it gets 431. Zero means DefaultMaxHeaderBytes (64 KiB).
	MaxHeaderBytes int
	// MaxConns bounds the connections open at once on the ingress listener; one
	// more is answered 503 and closed at once, so that clients cannot exhaust the
	// file descriptors pods and the admin listener need. Zero means DefaultMaxConns
	// (4096), a negative value no limit.
	MaxConns int

	// TLSIngress, if not nil, is the HTTPS ingress listener (Run closes it);
	// otherwise New binds TLSListen when it is not "".
	TLSIngress net.Listener
	// TLSListen, if not "", is the HTTPS ingress's address: the same routing as
	// the ingress over TLS 1.2 or later, HTTP/1.1 and HTTP/2 (ALPN h2), as
	// serving/platform's (see docs/protocols.md). Its certificates: a
	// DomainMapping's host is served with the certificate of the Kubernetes TLS
	// Secret its spec.tls.secretName names (in its namespace), read by name
	// every SecretInterval; any other server name with the files below (a host's
	// own in TLSDir, a wildcard's, else the default pair). The files are
	// optional here. "" and no TLSIngress: no HTTPS.
	TLSListen string
	// TLSCertFile and TLSKeyFile are the HTTPS ingress's default certificate and
	// key, and TLSDir its directory of per-host certificates chosen by SNI, as
	// serving/platform's (ingress.CertificatesOptions): New fails naming the file
	// of a certificate that does not load; Run follows them every PollInterval.
	TLSCertFile, TLSKeyFile, TLSDir string
	// PollInterval is how often the certificate files are looked at; zero means
	// ingress.DefaultCertificatesInterval (1 s).
	PollInterval time.Duration
	// SecretInterval is how often the TLS Secrets DomainMappings name are read
	// again (a Secret newly named is read at once); zero means
	// DefaultSecretInterval.
	SecretInterval time.Duration

	// Logger receives the platform's logs; nil discards them.
	Logger *slog.Logger
	// Reporter receives the controller's metrics (e.g.
	// serving/controller/ocmetrics.Reporter); nil reports nothing.
	Reporter controller.Reporter
	// ActivatorHooks observe the activator (e.g. activator/ocmetrics).
	ActivatorHooks activator.Hooks
	// Metrics, if not nil, is served on the admin listener's /metrics.
	Metrics http.Handler
	// DialContext, if not nil, makes every connection to a pod or a peer (tests:
	// cluster addresses mapped to loopback); nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// A Cluster is one replica of the platform on a Kubernetes cluster. Create it with
// New, then call Run once.
type Cluster struct {
	o       Options
	log     *slog.Logger
	cs      kubernetes.Interface
	dyn     dynamic.Interface
	ingress net.Listener
	admin   net.Listener
	webhook net.Listener // nil: no webhooks
	https   net.Listener // nil: no HTTPS
	// certs are the HTTPS ingress's certificates (files, and secrets first);
	// nil without HTTPS.
	certs   *ingress.Certificates
	secrets *secretCertificates
}

// New checks o, makes the API clients and binds the listeners, so that their
// addresses are known before Run. It does not contact the API server.
func New(o Options) (*Cluster, error) {
	switch {
	case o.REST == nil:
		return nil, errors.New("cluster: Options.REST: required")
	case o.QueueImage == "":
		return nil, errors.New("cluster: Options.QueueImage: required (the queue proxy sidecar's image, built from examples/queue-proxy)")
	case o.PeersService != "" && o.PodIP == "":
		return nil, errors.New("cluster: Options.PodIP: required with PeersService (this replica's address among its peers)")
	case o.PeersService != "" && o.PeerTokenSecret == "":
		return nil, errors.New("cluster: Options.PeerTokenSecret: required with PeersService (the replicas accept each other's reports only with the peer token)")
	}
	if o.LeaseNamespace == "" {
		o.LeaseNamespace = DefaultLeaseNamespace
	}
	if o.LeaseName == "" {
		o.LeaseName = DefaultLeaseName
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Identity == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("cluster: Options.Identity: empty and no hostname: %w", err)
		}
		o.Identity = h
	}
	if o.Config == nil {
		c, err := config.LoadDir("", "example.com")
		if err != nil {
			return nil, err
		}
		o.Config = &c
	}
	if len(o.Config.Ignored) > 0 && o.Logger != nil {
		o.Logger.Warn("config: these ConfigMaps are not used by servekit and are ignored", "configMaps", o.Config.Ignored)
	}
	c := &Cluster{o: o, log: o.Logger, ingress: o.Ingress, admin: o.AdminListener, https: o.TLSIngress}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.newCertificates(); err != nil {
		return nil, err
	}
	cfg := o.REST
	if cfg.QPS == 0 && cfg.Burst == 0 {
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = 50, 100
	}
	var err error
	if c.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if c.ingress == nil {
		if c.ingress, err = net.Listen("tcp", or(o.Listen, DefaultListen)); err != nil {
			return nil, fmt.Errorf("cluster: Options.Listen: %w", err)
		}
	}
	if c.admin == nil {
		if c.admin, err = net.Listen("tcp", or(o.Admin, DefaultAdmin)); err != nil {
			c.ingress.Close()
			return nil, fmt.Errorf("cluster: Options.Admin: %w", err)
		}
	}
	c.webhook = o.WebhookListener
	if c.webhook == nil && o.WebhookListen != "" {
		if c.webhook, err = net.Listen("tcp", o.WebhookListen); err != nil {
			c.ingress.Close()
			c.admin.Close()
			return nil, fmt.Errorf("cluster: Options.WebhookListen: %w", err)
		}
	}
	if c.webhook != nil && o.WebhookService == "" {
		if ip := c.webhook.Addr().(*net.TCPAddr).IP; ip.IsUnspecified() {
			c.closeListeners()
			return nil, fmt.Errorf("cluster: Options.WebhookListen %q: a host the API server can reach is required to register the webhooks by URL (or set WebhookService)", c.webhook.Addr())
		}
	}
	if c.https == nil && o.TLSListen != "" {
		if c.https, err = net.Listen("tcp", o.TLSListen); err != nil {
			c.closeListeners()
			return nil, fmt.Errorf("cluster: Options.TLSListen: %w", err)
		}
	}
	return c, nil
}

// newCertificates reads the HTTPS ingress's certificate files, if it has an
// HTTPS ingress, and makes its source of Secrets.
func (c *Cluster) newCertificates() error {
	o := c.o
	files := o.TLSCertFile != "" || o.TLSKeyFile != "" || o.TLSDir != ""
	if o.TLSListen == "" && o.TLSIngress == nil {
		if files {
			return errors.New("cluster: Options.TLSCertFile, TLSKeyFile, TLSDir: certificates given without an HTTPS listener (TLSListen)")
		}
		return nil
	}
	interval := o.SecretInterval
	if interval <= 0 {
		interval = DefaultSecretInterval
	}
	c.secrets = newSecretCertificates(func(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
		return c.cs.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	}, interval, c.log)
	certs, err := ingress.NewCertificates(ingress.CertificatesOptions{
		CertFile: o.TLSCertFile, KeyFile: o.TLSKeyFile, Dir: o.TLSDir, Interval: o.PollInterval, Logger: c.log,
		Sources: []ingress.CertificateSource{c.secrets},
		// A DomainMapping's host may have gained or lost its certificate.
		// (Scans run in Run, after it has set secrets.changed.)
		OnChange: func() {
			if f := c.secrets.changed; f != nil {
				f()
			}
		},
	})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.certs, c.secrets.files = certs, certs
	return nil
}

// closeListeners closes the listeners of a Cluster New does not return.
func (c *Cluster) closeListeners() {
	c.ingress.Close()
	c.admin.Close()
	if c.webhook != nil {
		c.webhook.Close()
	}
	if c.https != nil {
		c.https.Close()
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// IngressAddr is the address the ingress listens on.
func (c *Cluster) IngressAddr() net.Addr { return c.ingress.Addr() }

// HTTPSAddr is the address the HTTPS ingress listens on, or nil without one.
func (c *Cluster) HTTPSAddr() net.Addr {
	if c.https == nil {
		return nil
	}
	return c.https.Addr()
}

// AdminAddr is the address the admin listener listens on: GET /status, /metrics,
// /healthz, /readyz ("ok leader" or "ok follower" once the informers have synced,
// 503 before), and the peers' reports on peers.StatsPath.
func (c *Cluster) AdminAddr() net.Addr { return c.admin.Addr() }

// WebhookAddr is the address the admission webhooks listen on; nil if none.
func (c *Cluster) WebhookAddr() net.Addr {
	if c.webhook == nil {
		return nil
	}
	return c.webhook.Addr()
}

// Run reads (or creates) the peer token, then runs the replica until ctx is done:
// it serves the ingress and the admin listener, follows the API server, and writes
// to it while it holds the Lease. It returns nil after a clean shutdown, and an
// error if the replica loses the Lease or anything fails.
func (c *Cluster) Run(ctx context.Context) error {
	o, log, cs := c.o, c.log, c.cs
	if c.webhook != nil {
		defer c.webhook.Close() // already closed by the webhook server if it ran
	}
	if c.https != nil {
		defer c.https.Close() // already closed by its server if it ran
	}
	var token string
	var tokenRef *corev1.SecretKeySelector
	if o.PeerTokenSecret != "" {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var err error
		token, err = peers.Token(tctx, cs, o.LeaseNamespace, o.PeerTokenSecret)
		cancel()
		if err != nil {
			return err
		}
		tokenRef = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: o.PeerTokenSecret}, Key: peers.TokenKey}
	}
	kopts := kube.Options{
		Client: cs, Namespace: o.Namespace, QueueImage: o.QueueImage, Logger: log,
		PeerToken: token, PeerTokenSecret: tokenRef, DrainStreamDeadline: o.Config.DrainStreamDeadline,
		Follower: true, // until this replica holds the Lease
	}
	// config-deployment's progress-deadline, for the Deployments (serving/config
	// reads it into the autoscaler's configuration).
	kopts.ProgressDeadline = o.Config.Autoscaler.ProgressDeadline
	var peerTransport http.RoundTripper // nil: http.DefaultTransport
	if o.DialContext != nil {
		tr := &http.Transport{DialContext: o.DialContext}
		defer tr.CloseIdleConnections()
		kopts.StatsClient = autoscaler.HTTPStatsClient{Client: &http.Client{Transport: tr}}
		peerTransport = tr
	}
	kb, err := kube.New(kopts)
	if err != nil {
		return err
	}
	backend := store.NewBackend(kb)
	var pr *peers.Peers
	ctrlOpts := controller.Options{
		Backend:        backend,
		Logger:         log,
		Defaults:       &o.Config.Defaults,
		Autoscaler:     &o.Config.Autoscaler,
		Network:        &o.Config.Network,
		GC:             &o.Config.GC,
		Reporter:       o.Reporter,
		ActivatorHooks: o.ActivatorHooks,
		PeerToken:      token,
		DialContext:    o.DialContext,
		// Revision names follow the API server's Configuration generations, so
		// they survive restarts and leader changes (see docs/kubernetes-cluster.md).
		SourceGenerations: true,
	}
	if c.secrets != nil {
		ctrlOpts.Certificates = c.secrets // nil: no HTTPS
	}
	if o.PeersService != "" {
		ctrlOpts.OnActivatorStat = func(ns, name string, conc, reqs float64) { pr.Observe(ns, name, conc, reqs) }
	}
	ctrl, err := controller.New(ctrlOpts)
	if err != nil {
		return err
	}
	if c.secrets != nil {
		c.secrets.changed = ctrl.CertificatesChanged // before any goroutine reads it
	}
	if o.PeersService != "" {
		_, port, err := net.SplitHostPort(c.admin.Addr().String())
		if err != nil {
			return fmt.Errorf("cluster: admin address: %w", err)
		}
		pr = peers.New(peers.Options{Self: net.JoinHostPort(o.PodIP, port), Token: token, Recorder: ctrl, Logger: log, Transport: peerTransport})
	}
	var ingressName string
	if o.IngressService != "" {
		domain := o.Config.Network.ClusterDomain
		if domain == "" {
			domain = route.DefaultClusterDomain
		}
		ingressName = o.IngressService + "." + o.LeaseNamespace + ".svc." + domain
	}
	// Knative's Events (Created, ConfigurationReady, ...), recorded by the leader's
	// store, so that `kubectl describe` shows them. The broadcaster's goroutines
	// end with Run.
	events := record.NewBroadcaster(record.WithContext(ctx))
	defer events.Shutdown()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: EventComponent})
	st, err := store.New(store.Options{
		Recorder: recorder,
		Client:   c.dyn, Controller: ctrl, Backend: backend, Namespace: o.Namespace, Logger: log,
		Follower:    true, // until this replica holds the Lease
		IngressName: ingressName, TagName: o.Config.Network.TagName,
	})
	if err != nil {
		return err
	}

	var wh *webhook.Server
	if c.webhook != nil {
		wo := webhook.Options{
			Client: cs, Listener: c.webhook, Namespace: o.LeaseNamespace, SecretName: o.WebhookSecret,
			Service: o.WebhookService, Logger: log,
			Handler: &webhook.Handler{Defaults: func() v1.Defaults { return o.Config.Defaults }, Logger: log},
		}
		if o.WebhookService == "" {
			wo.URL = "https://" + c.webhook.Addr().String()
		}
		if wh, err = webhook.New(wo); err != nil {
			return err
		}
	} else {
		log.Warn("servekit: no admission webhook (--webhook-listen): objects are stored without Knative's defaults, and invalid ones are refused only in their status")
	}

	var leading, synced atomic.Bool
	attrs := []any{"server", o.REST.Host, "namespace", o.Namespace, "identity", o.Identity,
		"ingress", c.ingress.Addr().String(), "admin", c.admin.Addr().String(), "peers", o.PeersService, "peerToken", token != ""}
	if c.https != nil {
		attrs = append(attrs, "https", c.https.Addr().String())
	}
	log.Info("servekit: cluster mode", attrs...)

	g, gctx := errgroup.WithContext(ctx)
	limits := serve.Limits{MaxHeaderBytes: o.MaxHeaderBytes, MaxConns: o.MaxConns}
	listeners := []serve.Listener{{Handler: ctrl.Handler(), Listener: c.ingress, H2C: true, Limits: limits}}
	if c.https != nil {
		// The same handler as the plain ingress (serving/platform's HTTPS).
		listeners = append(listeners, serve.Listener{Handler: ctrl.Handler(), Listener: c.https, TLS: c.certs.TLSConfig(), Limits: limits})
		g.Go(func() error { return c.certs.Run(gctx) })
		g.Go(func() error { return c.secrets.Run(gctx) })
	}
	listeners = append(listeners, serve.Listener{Handler: c.adminHandler(ctrl, pr, &leading, &synced), Listener: c.admin})
	serve.Go(gctx, g, o.DrainTimeout, listeners...)
	g.Go(func() error { return ctrl.Run(gctx) })
	g.Go(func() error { return st.Run(gctx) })
	if wh != nil {
		g.Go(func() error { return wh.Run(gctx) })
	}
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
		g.Go(func() error { return peers.Watch(gctx, cs, o.LeaseNamespace, o.PeersService, pr) })
	}
	g.Go(func() error {
		err := leader.Run(gctx, leader.Options{
			Client: cs, Namespace: o.LeaseNamespace, Name: o.LeaseName, Identity: o.Identity, Logger: log,
		}, func(lctx context.Context) error {
			leading.Store(true)
			log.Info("servekit: leading: writing to the API server", "identity", o.Identity)
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

// adminHandler serves /status, /metrics, /healthz, /readyz and the peers' reports.
func (c *Cluster) adminHandler(ctrl *controller.Controller, pr *peers.Peers, leading, synced *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/status", ctrl.StatusHandler())
	if c.o.Metrics != nil {
		mux.Handle("/metrics", c.o.Metrics)
	}
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
	return mux
}
