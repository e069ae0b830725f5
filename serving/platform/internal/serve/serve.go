// Package serve runs the HTTP listeners of serving/platform and
// serving/platform/cluster the same way: read-header and idle timeouts, a limit on
// request header bytes and on open connections, and a graceful shutdown when the
// context is done.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Timeouts of every platform listener: a client has 10 s to send its request
// headers (no Slowloris), and an idle keep-alive connection is closed after 90 s.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 90 * time.Second
)

// Default limits of a listener (Limits' zero values).
const (
	// DefaultMaxHeaderBytes bounds a request's line and headers: 64 KiB, as many
	// proxies do (Go's default is 1 MiB). A request over it gets 431.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxConns bounds the connections open at once on a listener; one more
	// gets a 503 and is closed at once, so that clients cannot exhaust the
	// process's file descriptors.
	DefaultMaxConns = 4096
)

// Limits bound what clients may take of a listener.
type Limits struct {
	// MaxHeaderBytes bounds a request's line and headers (http.Server's
	// MaxHeaderBytes: Go allows 4 KiB over it); zero means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxConns bounds the connections open at once; zero means DefaultMaxConns, a
	// negative value no limit.
	MaxConns int
}

// Listener is one handler to serve on one listener.
type Listener struct {
	Handler  http.Handler
	Listener net.Listener
	Limits   Limits
	// H2C serves cleartext HTTP/2 with prior knowledge beside HTTP/1.1 (net/http's
	// Protocols). False serves HTTP/1.1 only.
	H2C bool
	// TLS, if not nil, serves HTTPS on the listener with this configuration:
	// HTTP/1.1 and HTTP/2 (ALPN h2); H2C is then ignored. A connection over
	// Limits.MaxConns is closed without an answer (a 503 in clear text would mean
	// nothing to a TLS client).
	TLS *tls.Config
}

// Go serves every l in g until ctx is done, then shuts them down one after the other,
// in the order given, waiting up to drain in all for the requests in flight: the
// listeners after the first (the admin listener) keep answering while the first (the
// ingress) drains. A server closed by the shutdown returns nil.
func Go(ctx context.Context, g *errgroup.Group, drain time.Duration, ls ...Listener) {
	srvs := make([]*http.Server, len(ls))
	for i, l := range ls {
		maxHeader := l.Limits.MaxHeaderBytes
		if maxHeader <= 0 {
			maxHeader = DefaultMaxHeaderBytes
		}
		srv := &http.Server{Handler: l.Handler, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout, MaxHeaderBytes: maxHeader}
		if l.TLS != nil {
			srv.TLSConfig = l.TLS
		} else if l.H2C {
			srv.Protocols = new(http.Protocols)
			srv.Protocols.SetHTTP1(true)
			srv.Protocols.SetUnencryptedHTTP2(true)
		}
		srvs[i] = srv
		lis := l.Listener
		n := l.Limits.MaxConns
		if n == 0 {
			n = DefaultMaxConns
		}
		if n > 0 {
			ll := &limitListener{Listener: lis, sem: make(chan struct{}, n), silent: l.TLS != nil}
			lis = ll
		}
		g.Go(func() error {
			var err error
			if l.TLS != nil {
				err = srv.ServeTLS(lis, "", "")
			} else {
				err = srv.Serve(lis)
			}
			if !errors.Is(err, http.ErrServerClosed) {
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

// LimitListener returns l that keeps at most n of its connections open at once. A
// connection accepted over the limit is sent a 503 (Connection: close) at once and
// closed, without waiting for its request: the accept loop never blocks on it, and
// it holds its file descriptor only for that write. A connection's slot is freed
// when it is closed (hijacked ones included).
func LimitListener(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n)}
}

// rejectTimeout bounds the write of the 503 to a connection over the limit.
const rejectTimeout = 100 * time.Millisecond

const overLimit = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 38\r\n\r\nservekit: too many connections, retry\n"

type limitListener struct {
	net.Listener
	sem    chan struct{} // one token per open connection
	silent bool          // close a connection over the limit without the 503 (TLS)
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
			if !l.silent {
				_ = c.SetWriteDeadline(time.Now().Add(rejectTimeout))
				_, _ = io.WriteString(c, overLimit)
			}
			_ = c.Close()
		}
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// CloseWrite keeps the server's lingering close (a response, then FIN, then a pause
// before closing, so that an unread request body does not reset the response).
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
