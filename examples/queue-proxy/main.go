// Command queue-proxy is servekit's drop-in for Knative's queue-proxy sidecar: it
// reads Knative's environment contract (CONTAINER_CONCURRENCY, QUEUE_SERVING_PORT,
// USER_PORT, REVISION_TIMEOUT_SECONDS, SERVING_READINESS_PROBE, SERVING_POD, ...; see
// queue.ParseEnv), proxies the serving port to the user container on
// 127.0.0.1:$USER_PORT, and drains on SIGTERM/SIGINT.
//
// Ports:
//   - $QUEUE_SERVING_PORT on all interfaces ($SERVEKIT_SERVING_HOST to narrow it):
//     the traffic, HTTP/1.1 and cleartext HTTP/2.
//   - $QUEUE_ADMIN_PORT (default 8022) on 127.0.0.1 ($SERVEKIT_ADMIN_HOST to move it,
//     e.g. to the pod IP so the kubelet can call the preStop hook): /wait-for-drain,
//     the user container's preStop hook.
//   - $QUEUE_METRICS_PORT (default 9090) on $SERVING_POD_IP (127.0.0.1 if unset):
//     /metrics serves the autoscaler's protobuf Stat, or Prometheus text when the
//     Accept header asks for text (text/plain or application/openmetrics-text, as
//     Prometheus does); /prometheus always serves the text.
//
// Profiling: SERVEKIT_PPROF_ADDR (unset by default), e.g. 127.0.0.1:6060, serves
// net/http/pprof's /debug/pprof/ there; a host left empty (":6060") means 127.0.0.1.
// hack/bench and docs/performance.md use it to profile the proxy under load.
//
// Trust: set SERVEKIT_PEER_TOKEN to the secret shared with the activator and the
// kubelet probe, or SERVEKIT_TRUST_KNATIVE_HEADERS=true next to Knative's activator.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opencensus.io/stats/view"

	"github.com/servekit/servekit/examples/internal/promtext"
	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/queue/ocmetrics"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(ctx, os.Getenv, logger, nil); err != nil {
		fmt.Fprintln(os.Stderr, "queue-proxy:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. ready, if not nil, receives the listeners' addresses
// once they are open (tests use it).
func run(ctx context.Context, getenv func(string) string, logger *slog.Logger, ready chan<- [3]string) error {
	env, err := queue.ParseEnv(getenv)
	if err != nil {
		return err
	}
	reporter := ocmetrics.New()
	if err := view.Register(reporter.Views()...); err != nil {
		return fmt.Errorf("registering views: %w", err)
	}
	defer view.Unregister(reporter.Views()...)

	opts := env.ProxyOptions()
	opts.Logger = logger
	opts.Reporter = reporter
	p, err := queue.NewProxy(opts)
	if err != nil {
		return err
	}

	metricsHost := env.PodIP
	if metricsHost == "" {
		metricsHost = "127.0.0.1"
	}
	adminHost := getenv("SERVEKIT_ADMIN_HOST")
	if adminHost == "" {
		adminHost = "127.0.0.1"
	}
	addrs := []struct{ name, addr string }{
		{queue.EnvServingPort, net.JoinHostPort(getenv("SERVEKIT_SERVING_HOST"), strconv.Itoa(env.ServingPort))},
		{queue.EnvAdminPort, net.JoinHostPort(adminHost, strconv.Itoa(env.AdminPort))},
		{queue.EnvMetricsPort, net.JoinHostPort(metricsHost, strconv.Itoa(env.MetricsPort))},
	}
	if a := getenv(envPprofAddr); a != "" {
		_, stopPprof, err := servePprof(a, logger)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	var lns [3]net.Listener
	for i, a := range addrs {
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			return fmt.Errorf("%s: listening on %s: %w", a.name, a.addr, err)
		}
		lns[i] = ln
	}
	text := promtext.Handler(reporter.Views()...)
	stat := p.StatsHandler()
	mux := http.NewServeMux()
	mux.Handle("/metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wantsText(r.Header.Get("Accept")) {
			text.ServeHTTP(w, r)
			return
		}
		stat.ServeHTTP(w, r)
	}))
	mux.Handle("/prometheus", text)

	logger.Info("queue-proxy: serving", "serving", lns[0].Addr().String(), "admin", lns[1].Addr().String(),
		"metrics", lns[2].Addr().String(), "target", opts.Target, "containerConcurrency", env.ContainerConcurrency,
		"peerToken", env.PeerToken != "", "trustKnativeHeaders", env.TrustKnativeHeaders)
	if ready != nil {
		ready <- [3]string{lns[0].Addr().String(), lns[1].Addr().String(), lns[2].Addr().String()}
	}
	return p.Run(ctx, queue.Listeners{Serving: lns[0], Admin: lns[1], Metrics: lns[2], MetricsHandler: mux})
}

// wantsText reports whether an Accept header asks for the Prometheus text formats
// (Knative's autoscaler asks for application/protobuf).
func wantsText(accept string) bool {
	return strings.Contains(accept, "text/plain") || strings.Contains(accept, "application/openmetrics-text")
}

// envPprofAddr names the optional profiling listener's address.
const envPprofAddr = "SERVEKIT_PPROF_ADDR"

// servePprof serves net/http/pprof on addr (host defaulting to 127.0.0.1) until the
// returned stop is called, and returns the address it listens on; stop closes the
// server and waits for its goroutine.
func servePprof(addr string, logger *slog.Logger) (bound string, stop func(), err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %q is not host:port", envPprofAddr, addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return "", nil, fmt.Errorf("%s: listening on %s: %w", envPprofAddr, addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No WriteTimeout: /debug/pprof/profile?seconds=N answers after N seconds.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	logger.Info("queue-proxy: pprof", "address", ln.Addr().String())
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	return ln.Addr().String(), func() { _ = srv.Close(); wg.Wait() }, nil
}
