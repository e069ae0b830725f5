// Package platform composes servekit into a whole serverless platform in one process,
// on the local runtime: the controller (serving/controller) with its ingress,
// activator and autoscaler, pods as local processes behind queue proxies
// (serving/runtime/local), a manifests directory as the source of truth
// (serving/manifests), an admin listener (GET /status, /metrics, /healthz), and,
// with Options.StateDir, a state directory that keeps the objects across restarts
// (serving/store).
//
// It is what `examples/controller` runs without --kubeconfig; a platform team embeds
// it, or copies its New as the starting point of its own composition. Its
// Kubernetes counterpart is serving/platform/cluster.
package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/serving/config"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/ingress"
	"github.com/servekit/servekit/serving/manifests"
	"github.com/servekit/servekit/serving/platform/internal/serve"
	"github.com/servekit/servekit/serving/runtime/local"
	"github.com/servekit/servekit/serving/store"
	"github.com/servekit/servekit/serving/v1beta1"
)

// Default addresses: both on loopback, so that nothing is exposed unless asked.
const (
	DefaultListen = "127.0.0.1:8080"
	DefaultAdmin  = "127.0.0.1:8081"
)

// Default limits of the ingress listener (Options.MaxHeaderBytes, MaxConns).
const (
	DefaultMaxHeaderBytes = serve.DefaultMaxHeaderBytes
	DefaultMaxConns       = serve.DefaultMaxConns
)

// DefaultDrainTimeout is how long Run waits for the requests in flight at shutdown
// when Options.DrainTimeout is zero.
const DefaultDrainTimeout = 30 * time.Second

// Options configure a [Platform]. Only Manifests is required.
type Options struct {
	// Manifests is the directory of Knative manifests (serving.knative.dev/v1),
	// applied at start and watched for changes. Required.
	Manifests string
	// StateDir is the directory where the platform keeps its objects across
	// restarts (serving/store: one file, locked while the platform runs): Services,
	// Configurations, Revisions with their numbers and templates, Routes with
	// traffic, tags and rollouts. New opens it, creating it if need be, and fails if
	// another process holds it; Run closes it. "" keeps everything in memory only.
	StateDir string
	// PollInterval is how often Manifests, ConfigDir and ImageMapFile are
	// scanned; zero means manifests.DefaultInterval (1 s).
	PollInterval time.Duration
	// Config is Knative's configuration (config.LoadDir); nil means Knative's
	// defaults with routes under Domain. It is not used when ConfigDir is set.
	Config *config.Config
	// ConfigDir, if not "", is the directory of Knative's config maps: New reads it
	// (config.NewWatcher, with Domain) and Run follows it, so that a changed config
	// map takes effect without a restart (docs/user-guide.md lists what changes
	// live). A map that does not parse keeps its last good values and its file is
	// listed in the status's errors until it is fixed.
	ConfigDir string
	// Domain is the domain of routes while ConfigDir has no config-domain (or,
	// without ConfigDir and Config, always); "" means example.com.
	Domain string
	// ImageMap maps container images to local commands; nil means
	// local.DefaultImageMap(). It is not used when ImageMapFile is set.
	ImageMap local.ImageMap
	// ImageMapFile, if not "", is the image map file: New reads it (LoadImageMap)
	// and Run follows it. Revisions created after a change use the new mapping;
	// running revisions and their pods keep the command they were created with. A
	// file that does not parse keeps the last good map and is listed in the
	// status's errors until it is fixed.
	ImageMapFile string
	// CacheDir is where builtin programs are built (local.Options.CacheDir).
	CacheDir string
	// Builtins are the commands that run builtin programs without building them
	// (local.Options.Builtins).
	Builtins map[string][]string
	// BaseEnv is the environment every pod starts from (see BaseEnv); nil means
	// an empty one.
	BaseEnv []string
	// PodOutput receives the pods' stdout and stderr; nil discards it.
	PodOutput io.Writer
	// MaxPods is the most pod processes run at once, across all revisions
	// (local.Options.MaxPods); zero means local.DefaultMaxPods(), 16 per CPU.
	// Revisions without a max-scale get local.DefaultMaxScale() (see
	// local.BoundScale) unless config-autoscaler sets max-scale.
	MaxPods int

	// Ingress and AdminListener, if not nil, are the listeners to serve on (Run
	// closes them); otherwise New binds Listen and Admin.
	Ingress, AdminListener net.Listener
	// Listen is the ingress address (routes by Host); "" means DefaultListen.
	Listen string
	// Admin is the admin address (GET /status, /metrics, /healthz); "" means
	// DefaultAdmin, on loopback: the status lists every service.
	Admin string
	// DrainTimeout is how long shutdown waits for requests in flight; zero means
	// DefaultDrainTimeout.
	DrainTimeout time.Duration
	// MaxHeaderBytes bounds each request's line and headers at the ingress; a
	// request over it gets 431. Zero means DefaultMaxHeaderBytes (64 KiB).
	MaxHeaderBytes int
	// MaxConns bounds the connections open at once on the ingress listener; one
	// more is answered 503 and closed at once, so that clients cannot exhaust the
	// file descriptors pods and the admin listener need. Zero means DefaultMaxConns
	// (4096), a negative value no limit. The HTTPS listener has a bound of its
	// own, the same (a connection over it is closed unanswered).
	MaxConns int

	// TLSIngress, if not nil, is the HTTPS ingress listener (Run closes it);
	// otherwise New binds TLSListen when it is not "".
	TLSIngress net.Listener
	// TLSListen, if not "", is the HTTPS ingress's address: the same routing as
	// the ingress, over TLS 1.2 or later, HTTP/1.1 and HTTP/2 (ALPN h2), with
	// the certificates below. The plain ingress (Listen) stays. "" and no
	// TLSIngress: no HTTPS.
	TLSListen string
	// TLSCertFile and TLSKeyFile are the HTTPS ingress's default certificate
	// and key, and TLSDir its directory of per-host certificates chosen by SNI
	// (DIR/<host>/tls.crt and tls.key, <host> possibly a wildcard
	// "*.example.com"): see ingress.CertificatesOptions. With HTTPS, a pair or
	// TLSDir is required; New fails naming the file of a certificate that does
	// not load, and Run follows the files (every PollInterval): a renewed
	// certificate is served without a restart, a broken one is logged and the
	// old one kept.
	TLSCertFile, TLSKeyFile, TLSDir string

	// Logger receives the platform's logs; nil discards them.
	Logger *slog.Logger
	// Reporter receives the controller's metrics (e.g.
	// serving/controller/ocmetrics.Reporter); nil reports nothing.
	Reporter controller.Reporter
	// ActivatorHooks observe the activator (e.g. activator/ocmetrics); zero means
	// none.
	ActivatorHooks activator.Hooks
	// Metrics, if not nil, is served on the admin listener's /metrics.
	Metrics http.Handler
}

// A Platform is the whole platform of one process: the controller on the local
// runtime, the manifests watcher, the ingress and the admin listeners. Create it
// with New, then call Run once.
type Platform struct {
	opts    Options
	log     *slog.Logger
	ctrl    *controller.Controller
	store   *store.Store // nil without Options.StateDir
	rt      *local.Runtime
	watcher *manifests.Watcher
	config  *config.Watcher  // nil without Options.ConfigDir
	images  *imageMapWatcher // nil without Options.ImageMapFile
	// firstScan is the watcher's first Scan, in Run; a test stands in a slow one.
	firstScan func()
	ingress   net.Listener
	admin     net.Listener
	https     net.Listener          // nil without HTTPS
	certs     *ingress.Certificates // nil without HTTPS
}

// New builds the platform and binds its listeners, so that their addresses are
// known before Run. A pod starts only once Run applies the manifests.
func New(o Options) (*Platform, error) {
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Admin == "" {
		o.Admin = DefaultAdmin
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The watchers' handlers reach the controller through p, complete before Run
	// starts them.
	p := &Platform{opts: o, log: log, ingress: o.Ingress, admin: o.AdminListener, https: o.TLSIngress}
	if err := p.newCertificates(); err != nil {
		return nil, err
	}
	cfg := o.Config
	var cw *config.Watcher
	if o.ConfigDir != "" {
		w, c, err := config.NewWatcher(config.WatcherOptions{Dir: o.ConfigDir, Domain: o.Domain, Interval: o.PollInterval, Logger: log,
			OnChange: p.configChanged, OnError: func(file string, err error) { p.ctrl.SetSourceError(file, err) }})
		if err != nil {
			return nil, err
		}
		cw, cfg = w, &c
	}
	if cfg == nil {
		domain := o.Domain
		if domain == "" {
			domain = "example.com"
		}
		c, err := config.LoadDir("", domain)
		if err != nil {
			return nil, err
		}
		cfg = &c
	}
	if len(cfg.Ignored) > 0 {
		log.Warn("config: these ConfigMaps are not used by servekit and are ignored", "configMaps", cfg.Ignored)
	}
	if st, err := os.Stat(o.Manifests); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("platform: Options.Manifests %q: not a directory", o.Manifests)
	}
	// Sources are the files' absolute paths, so that a restart from another
	// working directory finds the objects of the same files in the state.
	if abs, err := filepath.Abs(o.Manifests); err == nil {
		o.Manifests, p.opts.Manifests = abs, abs
	}
	imageMap := o.ImageMap
	var iw *imageMapWatcher
	if o.ImageMapFile != "" {
		var err error
		if iw, imageMap, err = newImageMapWatcher(o.ImageMapFile, log, p); err != nil {
			return nil, err
		}
	}
	if imageMap == nil {
		imageMap = local.DefaultImageMap()
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	rt, err := local.New(local.Options{
		ImageMap:     imageMap,
		CacheDir:     o.CacheDir,
		Builtins:     o.Builtins,
		BaseEnv:      o.BaseEnv,
		Output:       o.PodOutput,
		PeerToken:    token,
		Logger:       log,
		DrainTimeout: o.DrainTimeout,
		MaxPods:      o.MaxPods,
		// config-deployment's queue-sidecar-drain-stream-deadline; configChanged
		// follows it.
		DrainStreamDeadline: cfg.DrainStreamDeadline,
	})
	if err != nil {
		return nil, err
	}
	asCfg := local.BoundScale(cfg.Autoscaler) // one machine: no unbounded max-scale
	var st *store.Store
	var ctrlStore controller.Store // a nil *store.Store must not become a non-nil Store
	if o.StateDir != "" {
		if st, err = store.Open(o.StateDir, store.Options{}); err != nil {
			return nil, fmt.Errorf("platform: Options.StateDir: %w", err)
		}
		ctrlStore = st
		log.Info("servekit: state", "dir", o.StateDir, "file", st.Path())
	} else {
		log.Info("servekit: state kept in memory only (no state directory)")
	}
	var domainCerts controller.DomainCertificates // nil without HTTPS
	if p.certs != nil {
		domainCerts = fileDomainCertificates{certs: p.certs, dir: o.TLSDir}
	}
	ctrl, err := controller.New(controller.Options{
		Certificates:   domainCerts,
		Store:          ctrlStore,
		Backend:        local.Backend{Runtime: rt},
		Logger:         log,
		Defaults:       &cfg.Defaults,
		Autoscaler:     &asCfg,
		Network:        &cfg.Network,
		GC:             &cfg.GC,
		PeerToken:      token,
		Reporter:       o.Reporter,
		ActivatorHooks: o.ActivatorHooks,
	})
	if err != nil {
		if st != nil {
			st.Close()
		}
		return nil, err
	}
	if err := sameManifests(ctrl.Sources(), o.Manifests, o.StateDir); err != nil {
		if st != nil {
			st.Close()
		}
		return nil, err
	}
	p.ctrl, p.rt, p.config, p.images, p.store = ctrl, rt, cw, iw, st
	p.watcher = manifests.NewWatcher(o.Manifests, ctrl, log, o.PollInterval)
	// The sources restored from the state: the first scan applies those still
	// present (unchanged: nothing happens) and deletes the others.
	p.watcher.Adopt(ctrl.Sources())
	p.firstScan = p.watcher.Scan
	if p.ingress == nil {
		if p.ingress, err = net.Listen("tcp", o.Listen); err != nil {
			p.closeStore()
			return nil, fmt.Errorf("platform: Options.Listen: %w", err)
		}
	}
	if p.admin == nil {
		if p.admin, err = net.Listen("tcp", o.Admin); err != nil {
			p.ingress.Close()
			p.closeStore()
			return nil, fmt.Errorf("platform: Options.Admin: %w", err)
		}
	}
	if p.https == nil && o.TLSListen != "" {
		if p.https, err = net.Listen("tcp", o.TLSListen); err != nil {
			p.ingress.Close()
			p.admin.Close()
			p.closeStore()
			return nil, fmt.Errorf("platform: Options.TLSListen: %w", err)
		}
	}
	return p, nil
}

// newCertificates reads the HTTPS ingress's certificates, if it has one.
func (p *Platform) newCertificates() error {
	o := p.opts
	files := o.TLSCertFile != "" || o.TLSKeyFile != "" || o.TLSDir != ""
	switch {
	case o.TLSListen == "" && o.TLSIngress == nil:
		if files {
			return errors.New("platform: Options.TLSCertFile, TLSKeyFile, TLSDir: certificates given without an HTTPS listener (TLSListen)")
		}
		return nil
	case !files:
		return errors.New("platform: Options.TLSListen: HTTPS needs a certificate (TLSCertFile and TLSKeyFile) or a directory of them (TLSDir)")
	}
	certs, err := ingress.NewCertificates(ingress.CertificatesOptions{
		CertFile: o.TLSCertFile, KeyFile: o.TLSKeyFile, Dir: o.TLSDir, Interval: o.PollInterval, Logger: p.log,
		// A DomainMapping's host may have gained or lost its certificate. (Scans
		// run in Run, after New has set p.ctrl.)
		OnChange: func() { p.ctrl.CertificatesChanged() },
	})
	if err != nil {
		return fmt.Errorf("platform: %w", err)
	}
	p.certs = certs
	return nil
}

// fileDomainCertificates are the HTTPS ingress's certificate files as the
// DomainMapping reconciler asks about them (controller.DomainCertificates), on
// the local runtime, where there are no Secrets: a DomainMapping's host has a
// certificate when the files give it one valid for it (Certificates.Covers: its
// own directory, a wildcard's, or the default certificate). A mapping's
// spec.tls.secretName is not read: its certificate is the host's in the files,
// the same rule with or without spec.tls (docs/user-guide.md, differences from
// Knative).
type fileDomainCertificates struct {
	certs *ingress.Certificates
	dir   string // Options.TLSDir, named in the message of a host without one
}

// DomainCertificate says whether the files give d.Host a certificate valid for
// it; when not, the message names the directory the certificate belongs in.
func (f fileDomainCertificates) DomainCertificate(d controller.DomainTLS) controller.CertificateStatus {
	if f.certs.Covers(d.Host) {
		return controller.CertificateStatus{Ready: true}
	}
	where := "no certificate directory (TLSDir, --tls-dir)"
	if f.dir != "" {
		where = filepath.Join(f.dir, d.Host) + string(filepath.Separator) + ingress.CertFileName + " (or a wildcard's)"
	}
	return controller.CertificateStatus{Reason: v1beta1.ReasonCertificateMissing, Message: fmt.Sprintf(
		"the HTTPS ingress has no certificate for %s: none in %s, and the default certificate (if any) does not name it", d.Host, where)}
}

// SetDomains does nothing: the files are followed whatever the mappings are.
func (fileDomainCertificates) SetDomains([]controller.DomainTLS) {}

// sameManifests refuses a state directory whose objects all came from manifest
// files of another directory: the first scan would delete every one of them (their
// files are not in this directory), and another manifests directory with the
// default --state-dir is more likely a second project or a test than a move.
func sameManifests(sources []string, dir, stateDir string) error {
	if len(sources) == 0 {
		return nil
	}
	for _, src := range sources {
		if filepath.Dir(src) == dir {
			return nil
		}
	}
	return fmt.Errorf("platform: Options.StateDir %s holds the objects of the manifests in %s, not of %s: "+
		"give this manifests directory a state directory of its own, or remove %s to start empty (its objects would all be deleted)",
		stateDir, filepath.Dir(sources[0]), dir, stateDir)
}

// closeStore closes the state, if any, releasing its lock.
func (p *Platform) closeStore() {
	if p.store != nil {
		if err := p.store.Close(); err != nil {
			p.log.Error("servekit: state: close", "err", err)
		}
	}
}

// newToken returns a new peer token: 32 random bytes, hex-encoded. The activator
// and the queue proxies of one platform share it (queue.PeerTokenHeader).
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// IngressAddr is the address the ingress listens on.
func (p *Platform) IngressAddr() net.Addr { return p.ingress.Addr() }

// HTTPSAddr is the address the HTTPS ingress listens on, or nil without one.
func (p *Platform) HTTPSAddr() net.Addr {
	if p.https == nil {
		return nil
	}
	return p.https.Addr()
}

// Certificates are the HTTPS ingress's certificates (nil without HTTPS): the
// source of the certificate of a host, e.g. a custom domain's
// (ingress.CertificateSource).
func (p *Platform) Certificates() *ingress.Certificates { return p.certs }

// AdminAddr is the address the admin listener listens on.
func (p *Platform) AdminAddr() net.Addr { return p.admin.Addr() }

// Controller is the platform's controller, e.g. for its Status.
func (p *Platform) Controller() *controller.Controller { return p.ctrl }

// Runtime is the platform's local runtime, e.g. for its Pods.
func (p *Platform) Runtime() *local.Runtime { return p.rt }

// AdminHandler serves /status and /healthz, and Metrics on /metrics when set. It is
// what Run serves on the admin listener.
func (p *Platform) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/status", p.ctrl.StatusHandler())
	if p.opts.Metrics != nil {
		mux.Handle("/metrics", p.opts.Metrics)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

// Run serves at once, applies the manifests present at start-up beside serving and
// follows their changes until ctx is done, then shuts down cleanly: the ingress
// stops accepting and finishes the requests in flight (up to DrainTimeout), then
// the controller stops every pod (each drained, its process group terminated), and
// the state directory is closed (its lock released). It returns after everything
// has stopped, nil after a clean shutdown.
func (p *Platform) Run(ctx context.Context) error {
	ctrlCtx, stopCtrl := context.WithCancel(context.Background())
	defer stopCtrl()
	ctrlDone := make(chan error, 1)
	go func() { ctrlDone <- p.ctrl.Run(ctrlCtx) }()

	attrs := []any{"ingress", p.ingress.Addr().String(), "admin", p.admin.Addr().String(), "manifests", p.opts.Manifests}
	if p.https != nil {
		attrs = append(attrs, "https", p.https.Addr().String(), "certificates", len(p.certs.Hosts()))
	}
	p.log.Info("servekit: serving", attrs...)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		<-gctx.Done()
		p.log.Info("servekit: shutting down: draining the ingress")
		return nil
	})
	limits := serve.Limits{MaxHeaderBytes: p.opts.MaxHeaderBytes, MaxConns: p.opts.MaxConns}
	listeners := []serve.Listener{{Handler: p.ctrl.Handler(), Listener: p.ingress, H2C: true, Limits: limits}}
	if p.https != nil {
		// The same handler: it forwards as the plain ingress does, and the
		// request's TLS state makes X-Forwarded-Proto https.
		listeners = append(listeners, serve.Listener{Handler: p.ctrl.Handler(), Listener: p.https, TLS: p.certs.TLSConfig(), Limits: limits})
		g.Go(func() error { return p.certs.Run(gctx) })
	}
	listeners = append(listeners, serve.Listener{Handler: p.AdminHandler(), Listener: p.admin})
	serve.Go(gctx, g, p.opts.DrainTimeout, listeners...)
	// The manifests present at start-up are applied at once, but beside serving,
	// not before it: a slow first scan must not keep the ingress and admin
	// listeners from answering (issue 17, case 3). Until it has applied a Service,
	// its host answers 404, as for any host not (yet) routed.
	g.Go(func() error {
		p.firstScan()
		return p.watcher.Run(gctx)
	})
	if p.config != nil || p.images != nil {
		g.Go(func() error { return p.watchConfig(gctx) })
	}
	err := g.Wait()
	p.log.Info("servekit: stopping pods")
	stopCtrl()
	if cerr := <-ctrlDone; err == nil {
		err = cerr
	}
	p.closeStore()
	p.log.Info("servekit: stopped")
	return err
}

// BaseEnv keeps the variables a local program usually needs (PATH, HOME, TMPDIR,
// LANG, LC_ALL, USER, TZ: so that `python3 app.py` finds its interpreter) of environ
// (os.Environ()), and nothing else of the controller's environment.
func BaseEnv(environ []string) []string {
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

// LoadImageMap is local.DefaultImageMap with the image map file path over it (YAML,
// `image: [command, args...]`, relative commands relative to the file); "" means
// the default map alone.
func LoadImageMap(path string) (local.ImageMap, error) {
	if path == "" {
		return local.DefaultImageMap(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("platform: image map: %w", err)
	}
	return parseImageMapFile(path, data)
}
