package local

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/queue"
)

// queueFront is the default Front: the queue package's Proxy, in-process.
type queueFront struct {
	proxy *queue.Proxy
}

// newQueueFront builds a queue.Proxy for one pod.
func newQueueFront(cfg FrontConfig) (Front, error) {
	_, portStr, err := net.SplitHostPort(cfg.UserAddr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	probeSpec := cfg.ReadinessProbe
	if probeSpec == "" {
		probeSpec = `{"tcpSocket":{"port":0}}` // Knative's default: TCP on the user port
	}
	probes, err := queue.ParseProbes(probeSpec, port)
	if err != nil {
		return nil, err
	}
	p, err := queue.NewProxy(queue.ProxyOptions{
		Target:               cfg.UserAddr,
		ContainerConcurrency: cfg.ContainerConcurrency,
		Timeout:              cfg.Timeout,
		ResponseStartTimeout: cfg.ResponseStartTimeout,
		IdleTimeout:          cfg.IdleTimeout,
		ReadinessProbes:      probes,
		PeerToken:            cfg.PeerToken,
		DrainQuietPeriod:     cfg.DrainQuietPeriod,
		DrainStreamDeadline:  cfg.DrainStreamDeadline,
		PodName:              cfg.Pod,
	})
	if err != nil {
		return nil, err
	}
	f := &queueFront{proxy: p}
	return f, nil
}

func (f *queueFront) Serve(ctx context.Context, ln net.Listener) error {
	return f.proxy.Run(ctx, queue.Listeners{Serving: ln})
}

func (f *queueFront) Ready(ctx context.Context) bool { return f.proxy.Ready(ctx) }

func (f *queueFront) Stats(time.Time) metrics.Stat { return f.proxy.Stat() }

func (f *queueFront) InFlight() int { return f.proxy.InFlight() }

// Drain keeps the Front contract: the queue proxy's Drain returns once the quiet
// period has passed without a new request (Knative's), and then this waits for the
// requests still in flight (queue.Proxy.WaitDrained: woken by the last one, no
// polling), so the process is stopped only after they are answered. Long-lived
// streams (websockets, gRPC calls, event streams) are closed cleanly at the stream
// deadline (FrontConfig.DrainStreamDeadline, by default the revision timeout, from
// the start of the drain), or just before ctx
// ends if that is sooner. The runtime's ctx bounds the whole drain, as Knative's
// queue proxy drain is bounded by the pod's termination grace: a request still
// running then is cut.
func (f *queueFront) Drain(ctx context.Context) error {
	if err := f.proxy.Drain(ctx); err != nil {
		return err
	}
	return f.proxy.WaitDrained(ctx)
}
