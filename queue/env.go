package queue

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Env is the environment contract of Knative's queue-proxy
// (knative.dev/serving/pkg/queue/sharedmain/main.go; see docs/queue.md), plus
// servekit's own variables. ParseEnv reads it; ProxyOptions turns it into options.
type Env struct {
	// ContainerConcurrency is CONTAINER_CONCURRENCY (required): 0 means unlimited.
	ContainerConcurrency int
	// ServingPort is QUEUE_SERVING_PORT (required).
	ServingPort int
	// UserPort is USER_PORT (required): the user container listens on 127.0.0.1:UserPort.
	UserPort int
	// RevisionTimeout is REVISION_TIMEOUT_SECONDS (required). 0 means no limit (see
	// ProxyOptions.Timeout).
	RevisionTimeout time.Duration
	// ResponseStartTimeout is REVISION_RESPONSE_START_TIMEOUT_SECONDS; 0 or unset: none.
	ResponseStartTimeout time.Duration
	// IdleTimeout is REVISION_IDLE_TIMEOUT_SECONDS; 0 or unset: none.
	IdleTimeout time.Duration
	// ReadinessProbes is SERVING_READINESS_PROBE parsed by ParseProbes (nil if unset).
	ReadinessProbes []Probe
	// ReadinessProbeJSON is SERVING_READINESS_PROBE as given.
	ReadinessProbeJSON string

	// Identity (Knative requires them to be set, possibly empty; getenv cannot tell
	// unset from empty, so they are optional here). PodName goes into every Stat.
	Namespace, Configuration, Revision, Service, PodName, PodIP string

	// EnableHTTP2AutoDetection is ENABLE_HTTP2_AUTO_DETECTION: HTTP readiness checks
	// try cleartext HTTP/2 first (ProxyOptions.ReadinessHTTP2AutoDetection).
	EnableHTTP2AutoDetection bool
	// EnableHTTPFullDuplex is ENABLE_HTTP_FULL_DUPLEX (accepted, unused).
	EnableHTTPFullDuplex bool
	// EnableMultiContainerProbes is ENABLE_MULTI_CONTAINER_PROBES: the probe JSON is
	// an array (a single object is accepted either way).
	EnableMultiContainerProbes bool

	// AdminPort is QUEUE_ADMIN_PORT (default 8022, Knative's fixed admin port).
	AdminPort int
	// MetricsPort is QUEUE_METRICS_PORT (default 9090, Knative's fixed metrics port).
	MetricsPort int

	// PeerToken is SERVEKIT_PEER_TOKEN (ProxyOptions.PeerToken).
	PeerToken string
	// TrustKnativeHeaders is SERVEKIT_TRUST_KNATIVE_HEADERS (ProxyOptions.TrustKnativeHeaders).
	TrustKnativeHeaders bool
	// DrainQuietPeriod is SERVEKIT_DRAIN_QUIET_PERIOD, a Go duration (default 30s).
	DrainQuietPeriod time.Duration
	// DrainStreamDeadline is SERVEKIT_DRAIN_STREAM_DEADLINE, a Go duration or a
	// number of seconds (ProxyOptions.DrainStreamDeadline); zero when unset (the
	// revision timeout).
	DrainStreamDeadline time.Duration
}

// Names of the environment variables ParseEnv reads.
const (
	EnvContainerConcurrency       = "CONTAINER_CONCURRENCY"
	EnvServingPort                = "QUEUE_SERVING_PORT"
	EnvUserPort                   = "USER_PORT"
	EnvRevisionTimeout            = "REVISION_TIMEOUT_SECONDS"
	EnvResponseStartTimeout       = "REVISION_RESPONSE_START_TIMEOUT_SECONDS"
	EnvIdleTimeout                = "REVISION_IDLE_TIMEOUT_SECONDS"
	EnvReadinessProbe             = "SERVING_READINESS_PROBE"
	EnvNamespace                  = "SERVING_NAMESPACE"
	EnvConfiguration              = "SERVING_CONFIGURATION"
	EnvRevision                   = "SERVING_REVISION"
	EnvService                    = "SERVING_SERVICE"
	EnvPod                        = "SERVING_POD"
	EnvPodIP                      = "SERVING_POD_IP"
	EnvHTTP2AutoDetection         = "ENABLE_HTTP2_AUTO_DETECTION"
	EnvHTTPFullDuplex             = "ENABLE_HTTP_FULL_DUPLEX"
	EnvMultiContainerProbes       = "ENABLE_MULTI_CONTAINER_PROBES"
	EnvAdminPort                  = "QUEUE_ADMIN_PORT"
	EnvMetricsPort                = "QUEUE_METRICS_PORT"
	EnvPeerToken                  = "SERVEKIT_PEER_TOKEN"
	EnvTrustKnativeHeaders        = "SERVEKIT_TRUST_KNATIVE_HEADERS"
	EnvDrainQuietPeriod           = "SERVEKIT_DRAIN_QUIET_PERIOD"
	EnvDrainStreamDeadline        = "SERVEKIT_DRAIN_STREAM_DEADLINE"
	maxTimeoutSeconds       int64 = int64(time.Duration(1<<63-1) / time.Second)
)

// ParseEnv reads the environment through getenv (os.Getenv in a binary, a map in
// tests). Every problem is reported, joined, each naming its variable and value, e.g.
// `queue: CONTAINER_CONCURRENCY: "x" is not an integer`.
func ParseEnv(getenv func(string) string) (Env, error) {
	var (
		e    Env
		errs []error
	)
	bad := func(name, val, why string) {
		errs = append(errs, fmt.Errorf("queue: %s: %q %s", name, val, why))
	}
	get := func(name string, required bool) (string, bool) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			if required {
				errs = append(errs, fmt.Errorf("queue: %s: required but not set", name))
			}
			return "", false
		}
		return v, true
	}
	intVar := func(name string, required bool, def, lo, hi int) int {
		v, ok := get(name, required)
		if !ok {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			bad(name, v, "is not an integer")
			return def
		}
		if n < lo || n > hi {
			bad(name, v, fmt.Sprintf("is not in [%d, %d]", lo, hi))
			return def
		}
		return n
	}
	seconds := func(name string, required bool) time.Duration {
		v, ok := get(name, required)
		if !ok {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			bad(name, v, "is not an integer number of seconds")
			return 0
		}
		if n < 0 || n > maxTimeoutSeconds {
			bad(name, v, "is not a number of seconds >= 0")
			return 0
		}
		return time.Duration(n) * time.Second
	}
	boolVar := func(name string) bool {
		v, ok := get(name, false)
		if !ok {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(name, v, "is not a boolean")
		}
		return b
	}

	e.ContainerConcurrency = intVar(EnvContainerConcurrency, true, 0, 0, MaxBreakerCapacity)
	e.ServingPort = intVar(EnvServingPort, true, 0, 1, 65535)
	e.UserPort = intVar(EnvUserPort, true, 0, 1, 65535)
	e.RevisionTimeout = seconds(EnvRevisionTimeout, true)
	e.ResponseStartTimeout = seconds(EnvResponseStartTimeout, false)
	e.IdleTimeout = seconds(EnvIdleTimeout, false)
	e.Namespace = getenv(EnvNamespace)
	e.Configuration = getenv(EnvConfiguration)
	e.Revision = getenv(EnvRevision)
	e.Service = getenv(EnvService)
	e.PodName = getenv(EnvPod)
	e.PodIP = getenv(EnvPodIP)
	e.EnableHTTP2AutoDetection = boolVar(EnvHTTP2AutoDetection)
	e.EnableHTTPFullDuplex = boolVar(EnvHTTPFullDuplex)
	e.EnableMultiContainerProbes = boolVar(EnvMultiContainerProbes)
	e.AdminPort = intVar(EnvAdminPort, false, 8022, 1, 65535)
	e.MetricsPort = intVar(EnvMetricsPort, false, 9090, 1, 65535)
	e.PeerToken = getenv(EnvPeerToken)
	e.TrustKnativeHeaders = boolVar(EnvTrustKnativeHeaders)
	e.DrainQuietPeriod = 30 * time.Second
	if v, ok := get(EnvDrainQuietPeriod, false); ok {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad(EnvDrainQuietPeriod, v, "is not a duration (e.g. 30s)")
		case d <= 0:
			bad(EnvDrainQuietPeriod, v, "is not a positive duration")
		default:
			e.DrainQuietPeriod = d
		}
	}
	if v, ok := get(EnvDrainStreamDeadline, false); ok {
		d, err := time.ParseDuration(v)
		if n, nerr := strconv.ParseInt(v, 10, 64); nerr == nil && n <= maxTimeoutSeconds {
			d, err = time.Duration(n)*time.Second, nil // plain seconds
		}
		switch {
		case err != nil:
			bad(EnvDrainStreamDeadline, v, "is not a duration (e.g. 30s) or a number of seconds")
		case d <= 0:
			bad(EnvDrainStreamDeadline, v, "is not a positive duration")
		default:
			e.DrainStreamDeadline = d
		}
	}
	if v, ok := get(EnvReadinessProbe, false); ok {
		e.ReadinessProbeJSON = v
		port := e.UserPort
		if port == 0 {
			port = 1 // an error is already reported for USER_PORT; keep checking the JSON
		}
		probes, err := parseProbes(v, port)
		if err != nil {
			errs = append(errs, fmt.Errorf("queue: %s: %w", EnvReadinessProbe, err))
		} else {
			e.ReadinessProbes = probes
		}
	}
	return e, errors.Join(errs...)
}

// ProxyOptions returns the options of a Proxy for this environment: target
// 127.0.0.1:UserPort and the values above. Logger, Reporter and the rest are left
// for the caller.
func (e Env) ProxyOptions() ProxyOptions {
	return ProxyOptions{
		Target:                      "127.0.0.1:" + strconv.Itoa(e.UserPort),
		ContainerConcurrency:        e.ContainerConcurrency,
		Timeout:                     e.RevisionTimeout,
		ResponseStartTimeout:        e.ResponseStartTimeout,
		IdleTimeout:                 e.IdleTimeout,
		ReadinessProbes:             e.ReadinessProbes,
		ReadinessHTTP2AutoDetection: e.EnableHTTP2AutoDetection,
		PeerToken:                   e.PeerToken,
		TrustKnativeHeaders:         e.TrustKnativeHeaders,
		DrainQuietPeriod:            e.DrainQuietPeriod,
		DrainStreamDeadline:         e.DrainStreamDeadline,
		PodName:                     e.PodName,
	}
}
