package main

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
	"time"

	"go.opencensus.io/stats/view"
	"golang.org/x/sync/errgroup"

	"github.com/servekit/servekit/examples/internal/promtext"
	"github.com/servekit/servekit/serving/config"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/controller/ocmetrics"
	"github.com/servekit/servekit/serving/manifests"
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
	pollInterval time.Duration // how often the manifests directory is scanned
	cacheDir     string        // where builtin programs are built
	baseEnv      []string      // the environment pods start from
	podOutput    io.Writer     // where pod output goes
	logger       *slog.Logger
	drainTimeout time.Duration // how long shutdown waits for requests in flight
	// dial, if not nil, makes every connection to a pod or a peer in cluster mode
	// (tests: cluster addresses mapped to loopback). Nil means a net.Dialer.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// platform is the whole platform of one process: the controller on the local
// runtime, the manifests watcher, the ingress and the admin listeners.
type platform struct {
	opts    options
	log     *slog.Logger
	ctrl    *controller.Controller
	rt      *local.Runtime
	views   []*view.View // served on /metrics
	watcher *manifests.Watcher
	ingress net.Listener
	admin   net.Listener
}

// newPlatform builds the platform and binds its listeners (so their addresses are
// known before Run).
func newPlatform(o options) (*platform, error) {
	if o.drainTimeout <= 0 {
		o.drainTimeout = 30 * time.Second
	}
	if o.pollInterval <= 0 {
		o.pollInterval = time.Second
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pc, err := config.LoadDir(o.configDir, o.domain)
	if err != nil {
		return nil, err
	}
	imageMap := local.DefaultImageMap()
	if o.imageMap != "" {
		data, err := os.ReadFile(o.imageMap)
		if err != nil {
			return nil, fmt.Errorf("--image-map: %w", err)
		}
		m, err := local.ParseImageMap(data, filepath.Dir(o.imageMap))
		if err != nil {
			return nil, fmt.Errorf("--image-map %s: %w", o.imageMap, err)
		}
		imageMap = imageMap.Merge(m)
	}
	if st, err := os.Stat(o.manifests); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("--manifests %q: not a directory", o.manifests)
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	rt, err := local.New(local.Options{
		ImageMap:     imageMap,
		CacheDir:     o.cacheDir,
		BaseEnv:      o.baseEnv,
		Output:       o.podOutput,
		PeerToken:    token,
		Logger:       log,
		DrainTimeout: o.drainTimeout,
	})
	if err != nil {
		return nil, err
	}
	actMetrics := activatorMetrics
	views := append(ocmetrics.Views(), actMetrics.Views()...)
	if err := view.Register(views...); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	ctrl, err := controller.New(controller.Options{
		Backend:    local.Backend{Runtime: rt},
		Logger:     log,
		Defaults:   &pc.Defaults,
		Autoscaler: &pc.Autoscaler,
		Network:    &pc.Network,
		GC:         &pc.GC,
		PeerToken:  token,
		Reporter:   ocmetrics.Reporter{},
		// Queue wait and rejections of the activator, as histograms and counts.
		ActivatorHooks: actMetrics.Hooks(),
	})
	if err != nil {
		return nil, err
	}
	p := &platform{opts: o, log: log, ctrl: ctrl, rt: rt, views: views}
	p.watcher = manifests.NewWatcher(o.manifests, ctrl, log, o.pollInterval)
	if p.ingress, err = net.Listen("tcp", o.listen); err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	if p.admin, err = net.Listen("tcp", o.admin); err != nil {
		p.ingress.Close()
		return nil, fmt.Errorf("--admin: %w", err)
	}
	return p, nil
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// adminHandler serves /status, /metrics and /healthz.
func (p *platform) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/status", p.ctrl.StatusHandler())
	mux.Handle("/metrics", promtext.Handler(p.views...))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

// Run serves until ctx is done, then shuts down cleanly: the ingress stops accepting
// and finishes the requests in flight, then the controller stops every pod (each
// drained, its process group terminated). It returns after everything has stopped.
func (p *platform) Run(ctx context.Context) error {
	ctrlCtx, stopCtrl := context.WithCancel(context.Background())
	defer stopCtrl()
	ctrlDone := make(chan error, 1)
	go func() { ctrlDone <- p.ctrl.Run(ctrlCtx) }()

	p.watcher.Scan() // the manifests present at start-up, before serving
	ingress := &http.Server{Handler: p.ctrl.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	admin := &http.Server{Handler: p.adminHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	p.log.Info("servekit: serving", "ingress", p.ingress.Addr().String(), "admin", p.admin.Addr().String(), "manifests", p.opts.manifests)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve(ingress, p.ingress) })
	g.Go(func() error { return serve(admin, p.admin) })
	g.Go(func() error { return p.watcher.Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		p.log.Info("servekit: shutting down: draining the ingress")
		sctx, cancel := context.WithTimeout(context.Background(), p.opts.drainTimeout)
		defer cancel()
		err := ingress.Shutdown(sctx)
		if aerr := admin.Shutdown(sctx); err == nil {
			err = aerr
		}
		return err
	})
	err := g.Wait()
	p.log.Info("servekit: stopping pods")
	stopCtrl()
	if cerr := <-ctrlDone; err == nil {
		err = cerr
	}
	p.log.Info("servekit: stopped")
	return err
}

// serve is Serve that treats a shutdown as success.
func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
