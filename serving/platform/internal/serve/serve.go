// Package serve runs the HTTP listeners of serving/platform and
// serving/platform/cluster the same way: read-header and idle timeouts, and a
// graceful shutdown when the context is done.
package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// Timeouts of every platform listener: a client has 10 s to send its request
// headers (no Slowloris), and an idle keep-alive connection is closed after 90 s.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 90 * time.Second
)

// Listener is one handler to serve on one listener.
type Listener struct {
	Handler  http.Handler
	Listener net.Listener
}

// Go serves every l in g until ctx is done, then shuts them down one after the other,
// in the order given, waiting up to drain in all for the requests in flight: the
// listeners after the first (the admin listener) keep answering while the first (the
// ingress) drains. A server closed by the shutdown returns nil.
func Go(ctx context.Context, g *errgroup.Group, drain time.Duration, ls ...Listener) {
	srvs := make([]*http.Server, len(ls))
	for i, l := range ls {
		srv := &http.Server{Handler: l.Handler, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout}
		srvs[i] = srv
		g.Go(func() error {
			if err := srv.Serve(l.Listener); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		var err error
		for _, srv := range srvs {
			if serr := srv.Shutdown(sctx); err == nil {
				err = serr
			}
		}
		return err
	})
}
