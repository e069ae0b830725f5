// Package helloworld is the seed's sample app (registry.cn-hangzhou.aliyuncs.com/
// knative-sample/helloworld-go) as a function, shared by the examples/helloworld
// command and the controller binary's sample-app mode (`controller sample helloworld`,
// which the local runtime runs for the builtin "helloworld" so that the binary needs
// no Go toolchain). It answers "Hello <TARGET>!" on $PORT.
package helloworld

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// shutdownGrace bounds how long the app waits for in-flight requests after SIGTERM.
const shutdownGrace = 30 * time.Second

// handler answers every request with "Hello <target>!\n", as the seed's app does.
func handler(target string) http.Handler {
	body := []byte("Hello " + target + "!\n")
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}

// config is what the app reads from its environment.
type config struct {
	addr   string
	target string
}

// parseEnv reads PORT, HOST and TARGET through getenv.
func parseEnv(getenv func(string) string) (config, error) {
	port := getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return config{}, fmt.Errorf("env PORT=%q: want a port number 0..65535", port)
	}
	host := getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	target := getenv("TARGET")
	if target == "" {
		target = "World"
	}
	return config{addr: net.JoinHostPort(host, port), target: target}, nil
}

// Run serves until ctx is done, then shuts down gracefully. It reads PORT (default
// 8080), TARGET (default "World") and HOST (default 127.0.0.1) through getenv. If ready
// is not nil, the bound address is sent on it once the listener is open.
func Run(ctx context.Context, getenv func(string) string, ready chan<- net.Addr, logger *slog.Logger) error {
	cfg, err := parseEnv(getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler(cfg.target),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
	}
	logger.Info("helloworld: serving", "addr", ln.Addr().String(), "target", cfg.target)
	if ready != nil {
		ready <- ln.Addr()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	logger.Info("helloworld: stopped")
	return err
}

// Main runs the app as a command does: the process environment, a text log on
// stderr, an error printed there. It returns the exit status.
func Main(ctx context.Context) int {
	if err := Run(ctx, os.Getenv, nil, slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
		fmt.Fprintln(os.Stderr, "helloworld:", err)
		return 1
	}
	return 0
}
