// Command activator runs servekit's activator on its own: it holds requests for
// revisions without ready pods and forwards each to a pod once one passes its probe,
// fed by a static (-revision) or file-based (-endpoints-file, re-read on change)
// endpoint source, so the package can be tried without the controller.
//
//	activator -revision default/hello-00001=127.0.0.1:8081 -container-concurrency 1
//	activator -endpoints-file endpoints.yaml
//
// endpoints.yaml:
//
//	revisions:
//	- namespace: default
//	  name: hello-00001
//	  containerConcurrency: 1
//	  timeoutSeconds: 300
//	  hosts: [hello.default.example.com]
//	  addresses: ["127.0.0.1:8081", "127.0.0.1:8082"]
//	  protocol: http1 # or h2c: the pods are sent requests over cleartext HTTP/2 (gRPC)
//
// It serves HTTP/1.1 and h2c (prior knowledge). Requests are routed by Host: a listed host, or <revision>.<namespace>.svc.<domain>;
// with -trust-knative-headers also by Knative's Knative-Serving-Namespace/Revision
// headers (only where no client can reach the activator directly).
//
// Ports (loopback by default): -listen for traffic; -admin for /metrics (Prometheus
// text) and /healthz. SERVEKIT_PEER_TOKEN is the secret shared with the queue proxies.
// On SIGTERM/SIGINT /healthz turns 503, and after -drain-delay the server stops
// accepting and waits (up to -shutdown-timeout) for the requests it holds.
//
// The binary only parses flags and composes: the endpoint description and its watcher
// are package activator/endpoints, the servers and the drain are activator.Serve.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.opencensus.io/stats/view"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/activator/endpoints"
	"github.com/servekit/servekit/activator/ocmetrics"
	"github.com/servekit/servekit/examples/internal/promtext"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type revisionFlags []string

func (r *revisionFlags) String() string     { return strings.Join(*r, " ") }
func (r *revisionFlags) Set(v string) error { *r = append(*r, v); return nil }

type options struct {
	listen, admin   string
	endpointsFile   string
	revisions       revisionFlags
	cc              int
	timeout         time.Duration
	poll            time.Duration
	index, count    int
	trustKnative    bool
	drainDelay      time.Duration
	shutdownTimeout time.Duration
	logLevel        string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("activator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8012", "traffic listen address")
	fs.StringVar(&o.admin, "admin", "127.0.0.1:9012", "admin listen address (/metrics, /healthz)")
	fs.StringVar(&o.endpointsFile, "endpoints-file", "", "YAML/JSON file of revisions and pod addresses, re-read on change")
	fs.Var(&o.revisions, "revision", "static revision: namespace/name=ip:port,... (repeatable)")
	fs.IntVar(&o.cc, "container-concurrency", 0, "containerConcurrency of -revision revisions (0: unlimited)")
	fs.DurationVar(&o.timeout, "timeout", activator.DefaultTimeout, "timeout of -revision revisions")
	fs.DurationVar(&o.poll, "poll-interval", time.Second, "how often -endpoints-file is checked for changes")
	fs.IntVar(&o.index, "activator-index", -1, "this activator's index among -activator-count (subsetting); -1: use all pods")
	fs.IntVar(&o.count, "activator-count", 0, "number of activators sharing the revisions")
	fs.BoolVar(&o.trustKnative, "trust-knative-headers", false, "route by Knative-Serving-Namespace/Revision headers (spoofable: only behind an ingress that sets them)")
	fs.DurationVar(&o.drainDelay, "drain-delay", 5*time.Second, "time /healthz fails before the listener closes on shutdown")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 60*time.Second, "how long shutdown waits for held and in-flight requests")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.endpointsFile == "" && len(o.revisions) == 0 {
		return nil, errors.New("activator: set -endpoints-file or at least one -revision")
	}
	if o.endpointsFile != "" && len(o.revisions) > 0 {
		return nil, errors.New("activator: -endpoints-file and -revision are exclusive")
	}
	if o.poll <= 0 {
		return nil, fmt.Errorf("activator: -poll-interval must be > 0, got %v", o.poll)
	}
	return o, nil
}

// addrs is told the listeners' addresses once they listen (tests use port 0).
type addrs func(traffic, admin net.Addr)

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready addrs) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("activator: -log-level %q: %w", o.logLevel, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	metrics := ocmetrics.New("activator")
	views := metrics.Views()
	if err := view.Register(views...); err != nil {
		return fmt.Errorf("activator: registering views: %w", err)
	}
	defer view.Unregister(views...)

	token := getenv("SERVEKIT_PEER_TOKEN")
	if token == "" {
		log.Warn("SERVEKIT_PEER_TOKEN is not set: pods will count proxied requests as direct ones")
	}
	th := activator.NewThrottler(activator.Options{
		PeerToken: token,
		Logger:    log,
		Hooks:     metrics.Hooks(),
		StatSink: activator.StatSinkFunc(func(ns, name string, at time.Time, c, n float64) {
			log.Debug("stat", "revision", ns+"/"+name, "concurrency", c, "requests", n)
		}),
	})
	if err := th.UpdateActivators(o.index, o.count); err != nil {
		return err
	}

	src := endpoints.NewSource(th, log)
	if len(o.revisions) > 0 {
		var c endpoints.Config
		for _, s := range o.revisions {
			r, err := endpoints.ParseRevisionFlag(s, o.cc, o.timeout)
			if err != nil {
				return err
			}
			c.Revisions = append(c.Revisions, r)
		}
		src.Apply(&c)
	} else if err := src.Load(o.endpointsFile); err != nil {
		return fmt.Errorf("activator: -endpoints-file: %w", err) // the first read must work; later bad versions are logged and skipped
	}

	var resolver activator.Resolver = src
	if o.trustKnative {
		kh, hr := activator.KnativeHeaders(), resolver
		resolver = activator.ResolverFunc(func(r *http.Request) (activator.RevisionKey, error) {
			if r.Header.Get(activator.RevisionNameHeader) != "" {
				return kh.Resolve(r)
			}
			return hr.Resolve(r)
		})
	}
	h, err := activator.NewHandler(activator.HandlerOptions{Throttler: th, Resolver: resolver, PeerToken: token, Logger: log})
	if err != nil {
		return err
	}

	trafficLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("activator: -listen: %w", err)
	}
	adminLn, err := net.Listen("tcp", o.admin)
	if err != nil {
		trafficLn.Close()
		return fmt.Errorf("activator: -admin: %w", err)
	}
	// The watcher stops at the signal, or when Serve returns after a server failed.
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if o.endpointsFile != "" {
			src.Watch(watchCtx, o.endpointsFile, o.poll)
		}
	}()
	err = activator.Serve(ctx, activator.ServeOptions{
		Handler:         h,
		Throttler:       th,
		Listener:        trafficLn,
		AdminListener:   adminLn,
		Metrics:         promtext.Handler(views...),
		Ready:           ready,
		DrainDelay:      o.drainDelay,
		ShutdownTimeout: o.shutdownTimeout,
		Logger:          log,
	})
	stopWatch()
	<-watched
	return err
}
