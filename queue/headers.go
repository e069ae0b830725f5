package queue

// Header names and values shared by the queue proxy and its trusted peers (the
// activator, the kubelet). They are Knative's, so a Knative activator or prober works
// against this proxy unchanged; PeerTokenHeader is servekit's addition (see the
// package documentation, "Trust").
const (
	// ProbeHeaderName with value ProbeHeaderValue marks a health probe of the proxy
	// itself. The proxy answers it (200 "queue" when ready) without reaching the app.
	ProbeHeaderName = "K-Network-Probe"
	// ProbeHeaderValue is the value of ProbeHeaderName that asks for the proxy's health.
	ProbeHeaderValue = "queue"

	// ProxyHeaderName with value ProxyHeaderValue marks a request forwarded by the
	// activator, which has already counted it for autoscaling; the proxy reports it in
	// the proxied part of its stats so the autoscaler does not count it twice.
	ProxyHeaderName = "K-Proxy-Request"
	// ProxyHeaderValue is the value of ProxyHeaderName set by the activator.
	ProxyHeaderValue = "activator"

	// OriginalHostHeader carries the Host the client used when a peer (the activator)
	// rewrote Host; the proxy restores it before the request reaches the app.
	OriginalHostHeader = "K-Original-Host"

	// KubeletProbeHeader marks a legacy kubelet probe: it goes to the app without the
	// breaker and without stats.
	KubeletProbeHeader = "K-Kubelet-Probe"

	// PeerTokenHeader carries the shared secret that makes a request's Knative headers
	// trusted (ProxyOptions.PeerToken). The proxy always removes it before the request
	// reaches the app.
	PeerTokenHeader = "Servekit-Peer-Token"

	// NetworkHashHeader is echoed by the proxy on K-Network-Probe: probe requests
	// (ingress readiness probes).
	NetworkHashHeader = "K-Network-Hash"
)
