// This file owns Serve: the activator's HTTP servers (traffic and admin), their
// timeouts, and the drain on shutdown.

package activator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Defaults of ServeOptions.
const (
	// DefaultAddr is the traffic listen address (Knative's activator port, 8012, on
	// loopback).
	DefaultAddr = "127.0.0.1:8012"
	// DefaultAdminAddr is the admin listen address (/healthz, /metrics).
	DefaultAdminAddr = "127.0.0.1:9012"
	// DefaultShutdownTimeout bounds the wait for held and in-flight requests.
	DefaultShutdownTimeout = 60 * time.Second
	// DefaultReadHeaderTimeout bounds the reading of a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes keep-alive connections idle that long.
	DefaultIdleTimeout = 90 * time.Second
)

// ServeOptions configure Serve. Only Handler is required.
type ServeOptions struct {
	// Handler serves the traffic listener, usually a *Handler. Required.
	Handler http.Handler
	// Throttler, when set, is Run for the life of Serve: it keeps probing and
	// reporting while held requests drain and is stopped after the traffic server
	// has shut down. Nil means the caller runs it.
	Throttler *Throttler
	// Listener is the traffic listener; nil means listening on Addr. Serve closes it.
	Listener net.Listener
	// Addr is the traffic listen address when Listener is nil; empty means
	// DefaultAddr (loopback).
	Addr string
	// AdminListener is the admin listener; nil means listening on AdminAddr. Serve
	// closes it.
	AdminListener net.Listener
	// AdminAddr is the admin listen address when AdminListener is nil; empty means
	// DefaultAdminAddr (loopback).
	AdminAddr string
	// Metrics, when set, is served at /metrics on the admin listener; nil serves
	// nothing there (404). The admin listener always serves /healthz: 200 "ok", then
	// 503 "draining" once shutdown has begun.
	Metrics http.Handler
	// Ready, when set, is called with the listeners' addresses once both listen and
	// before any request is served (useful with port 0).
	Ready func(traffic, admin net.Addr)
	// DrainDelay is how long /healthz fails, while traffic is still served, before the
	// traffic listener closes: the time a load balancer needs to stop sending. Zero
	// means no delay.
	DrainDelay time.Duration
	// ShutdownTimeout bounds the wait for held and in-flight requests once the
	// listener closed; zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout and IdleTimeout apply to both servers; zero means
	// DefaultReadHeaderTimeout and DefaultIdleTimeout.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// Logger receives the listening addresses and the drain; nil discards.
	Logger *slog.Logger
}

// Serve runs the activator's servers until ctx ends or one of them fails, then drains:
// /healthz turns 503, after DrainDelay the traffic server stops accepting and waits
// (up to ShutdownTimeout) for the requests it holds, and the Throttler (when set) is
// stopped. It returns after every goroutine it started has exited, with the first
// server error, or nil when ctx ended. An error listening is returned at once.
func Serve(ctx context.Context, o ServeOptions) error {
	if o.Handler == nil {
		closeAll(o.Listener, o.AdminListener)
		return errors.New("activator: ServeOptions.Handler is required")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	trafficLn, adminLn := o.Listener, o.AdminListener
	var err error
	if trafficLn == nil {
		if trafficLn, err = net.Listen("tcp", cmp.Or(o.Addr, DefaultAddr)); err != nil {
			closeAll(adminLn)
			return fmt.Errorf("activator: ServeOptions.Addr: %w", err)
		}
	}
	if adminLn == nil {
		if adminLn, err = net.Listen("tcp", cmp.Or(o.AdminAddr, DefaultAdminAddr)); err != nil {
			closeAll(trafficLn)
			return fmt.Errorf("activator: ServeOptions.AdminAddr: %w", err)
		}
	}

	var draining atomic.Bool
	adminMux := http.NewServeMux()
	if o.Metrics != nil {
		adminMux.Handle("/metrics", o.Metrics)
	}
	adminMux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	readHeader, idle := cmp.Or(o.ReadHeaderTimeout, DefaultReadHeaderTimeout), cmp.Or(o.IdleTimeout, DefaultIdleTimeout)
	// The traffic listener serves HTTP/1.1 and cleartext HTTP/2 with prior knowledge
	// (gRPC), as Knative's activator does.
	traffic := &http.Server{Handler: o.Handler, ReadHeaderTimeout: readHeader, IdleTimeout: idle, Protocols: new(http.Protocols)}
	traffic.Protocols.SetHTTP1(true)
	traffic.Protocols.SetUnencryptedHTTP2(true)
	admin := &http.Server{Handler: adminMux, ReadHeaderTimeout: readHeader, IdleTimeout: idle}
	log.Info("activator listening", "traffic", trafficLn.Addr().String(), "admin", adminLn.Addr().String())
	if o.Ready != nil {
		o.Ready(trafficLn.Addr(), adminLn.Addr())
	}

	// The Throttler outlives ctx: it must go on probing while held requests drain.
	thCtx, stopTh := context.WithCancel(context.WithoutCancel(ctx))
	defer stopTh()
	started := 2
	errc := make(chan error, 3)
	if o.Throttler != nil {
		started++
		go func() { errc <- o.Throttler.Run(thCtx) }()
	}
	go func() { errc <- serveListener(traffic, trafficLn) }()
	go func() { errc <- serveListener(admin, adminLn) }()

	var (
		firstErr error
		received int
	)
	// Until ctx ends, or a server fails.
	for firstErr == nil && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case err := <-errc:
			received++
			firstErr = err
		}
	}
	// Drain: fail health checks so the platform stops sending, then stop accepting and
	// wait for what is held.
	draining.Store(true)
	log.Info("activator draining", "delay", o.DrainDelay)
	if firstErr == nil {
		timer := time.NewTimer(o.DrainDelay)
		select {
		case <-timer.C:
		case err := <-errc:
			received++
			firstErr = err
		}
		timer.Stop()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(o.ShutdownTimeout, DefaultShutdownTimeout))
	defer cancel()
	if err := traffic.Shutdown(sctx); err != nil {
		log.Warn("traffic shutdown", "error", err.Error())
	}
	admin.Shutdown(sctx)
	stopTh()
	for ; received < started; received++ {
		if err := <-errc; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func serveListener(s *http.Server, ln net.Listener) error {
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func closeAll(lns ...net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
}
