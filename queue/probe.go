package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Probe is a readiness check of the user container: the part of a Kubernetes
// corev1.Probe that the queue proxy runs itself
// (knative.dev/serving/pkg/queue/readiness/probe.go). ParseProbes reads it from
// Knative's SERVING_READINESS_PROBE JSON, so the queue package does not need k8s.io/api. Exactly one of TCPSocket, HTTPGet and GRPC is set.
type Probe struct {
	// TCPSocket, when set, checks that a TCP connection can be opened.
	TCPSocket *TCPSocketAction
	// HTTPGet, when set, checks that a GET answers with a status in 200..399.
	HTTPGet *HTTPGetAction
	// GRPC, when set, checks that the gRPC health service (grpc.health.v1.Health/Check,
	// over cleartext HTTP/2) answers SERVING.
	GRPC *GRPCAction
	// Timeout bounds one attempt when Period > 0; zero means one second. In the
	// aggressive mode (Period == 0) every attempt is bounded by 100 ms.
	Timeout time.Duration
	// Period zero selects Knative's aggressive start-up mode: poll every 50 ms for up
	// to 10 s until SuccessThreshold consecutive attempts pass. Non-zero means one
	// attempt per check; the caller (the kubelet) provides the repetition.
	Period time.Duration
	// SuccessThreshold is how many consecutive attempts must pass; zero means 1.
	SuccessThreshold int
}

// TCPSocketAction is a TCP readiness check.
type TCPSocketAction struct {
	// Host to dial; empty means 127.0.0.1.
	Host string
	// Port to dial, 1..65535.
	Port int
}

// HTTPGetAction is an HTTP readiness check.
type HTTPGetAction struct {
	// Host to connect to; empty means 127.0.0.1.
	Host string
	// Port to connect to, 1..65535.
	Port int
	// Path of the request; empty means "/".
	Path string
	// Scheme is "HTTP" (the only one supported; the user container is on loopback).
	// Empty means "HTTP".
	Scheme string
	// Headers are added to the request.
	Headers http.Header
}

// GRPCAction is a gRPC health check (grpc.health.v1).
type GRPCAction struct {
	// Host to connect to; empty means 127.0.0.1.
	Host string
	// Port to connect to, 1..65535.
	Port int
	// Service is the service name sent in the HealthCheckRequest; empty means the
	// server's overall health.
	Service string
}

// The JSON shape of corev1.Probe (only the fields the queue proxy uses, plus exec so
// that it can be recognised).
type probeJSON struct {
	Exec *json.RawMessage `json:"exec"`
	GRPC *struct {
		Port    jsonPort `json:"port"`
		Service *string  `json:"service"`
	} `json:"grpc"`
	TCPSocket *struct {
		Host string   `json:"host"`
		Port jsonPort `json:"port"`
	} `json:"tcpSocket"`
	HTTPGet *struct {
		Host        string   `json:"host"`
		Port        jsonPort `json:"port"`
		Path        string   `json:"path"`
		Scheme      string   `json:"scheme"`
		HTTPHeaders []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"httpHeaders"`
	} `json:"httpGet"`
	TimeoutSeconds   int `json:"timeoutSeconds"`
	PeriodSeconds    int `json:"periodSeconds"`
	SuccessThreshold int `json:"successThreshold"`
}

// jsonPort is an IntOrString port: a number, or a string holding a number (named
// ports are resolved by Knative's reconciler before the probe reaches the proxy).
type jsonPort struct {
	n   int
	set bool
}

func (p *jsonPort) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("port %s is not a number", b)
	}
	p.n, p.set = n, true
	return nil
}

// ParseProbes parses Knative's SERVING_READINESS_PROBE value: the JSON of one
// corev1.Probe, or a JSON array of probes (ENABLE_MULTI_CONTAINER_PROBES). Empty
// input means no probe (always ready). defaultPort fills a missing or zero port, as
// Knative's reconciler does with the user port. exec probes become TCP probes on the
// port (Knative's reconciler does the same; the kubelet still runs the exec). Errors
// name the field, e.g. "probe[0].httpGet.port".
func ParseProbes(s string, defaultPort int) ([]Probe, error) {
	probes, err := parseProbes(s, defaultPort)
	if err != nil {
		return nil, fmt.Errorf("queue: readiness probe: %w", err)
	}
	return probes, nil
}

func parseProbes(s string, defaultPort int) ([]Probe, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var raw []probeJSON
	if s[0] == '[' {
		if err := decodeLenient(s, &raw); err != nil {
			return nil, err
		}
	} else {
		var one probeJSON
		if err := decodeLenient(s, &one); err != nil {
			return nil, err
		}
		raw = []probeJSON{one}
	}
	probes := make([]Probe, 0, len(raw))
	for i, r := range raw {
		p, err := r.probe(defaultPort)
		if err != nil {
			return nil, fmt.Errorf("probe[%d].%w", i, err)
		}
		probes = append(probes, p)
	}
	return probes, nil
}

// decodeLenient decodes one JSON value, ignoring fields the proxy does not use
// (initialDelaySeconds, failureThreshold, ...) but refusing trailing data.
func decodeLenient(s string, v any) error {
	d := json.NewDecoder(strings.NewReader(s))
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err == nil {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func checkPort(field string, p jsonPort, def int) (int, error) {
	n := p.n
	if !p.set || n == 0 {
		n = def
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%s: %d is not a port in 1..65535", field, n)
	}
	return n, nil
}

func (r probeJSON) probe(defaultPort int) (Probe, error) {
	p := Probe{
		Timeout:          time.Duration(r.TimeoutSeconds) * time.Second,
		Period:           time.Duration(r.PeriodSeconds) * time.Second,
		SuccessThreshold: r.SuccessThreshold,
	}
	switch {
	case r.TimeoutSeconds < 0:
		return Probe{}, fmt.Errorf("timeoutSeconds: %d is negative", r.TimeoutSeconds)
	case r.PeriodSeconds < 0:
		return Probe{}, fmt.Errorf("periodSeconds: %d is negative", r.PeriodSeconds)
	case r.SuccessThreshold < 0:
		return Probe{}, fmt.Errorf("successThreshold: %d is negative", r.SuccessThreshold)
	}
	n := 0
	for _, set := range []bool{r.Exec != nil, r.GRPC != nil, r.TCPSocket != nil, r.HTTPGet != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return Probe{}, fmt.Errorf("handler: want exactly one of exec, grpc, tcpSocket, httpGet, got %d", n)
	}
	switch {
	case r.Exec != nil:
		port, err := checkPort("exec", jsonPort{}, defaultPort)
		if err != nil {
			return Probe{}, err
		}
		p.TCPSocket = &TCPSocketAction{Port: port}
	case r.GRPC != nil:
		port, err := checkPort("grpc.port", r.GRPC.Port, defaultPort)
		if err != nil {
			return Probe{}, err
		}
		p.GRPC = &GRPCAction{Port: port}
		if r.GRPC.Service != nil {
			p.GRPC.Service = *r.GRPC.Service
		}
	case r.TCPSocket != nil:
		port, err := checkPort("tcpSocket.port", r.TCPSocket.Port, defaultPort)
		if err != nil {
			return Probe{}, err
		}
		p.TCPSocket = &TCPSocketAction{Host: r.TCPSocket.Host, Port: port}
	case r.HTTPGet != nil:
		g := r.HTTPGet
		port, err := checkPort("httpGet.port", g.Port, defaultPort)
		if err != nil {
			return Probe{}, err
		}
		if g.Scheme != "" && !strings.EqualFold(g.Scheme, "HTTP") {
			return Probe{}, fmt.Errorf("httpGet.scheme: %q is not supported (want HTTP)", g.Scheme)
		}
		a := &HTTPGetAction{Host: g.Host, Port: port, Path: g.Path, Scheme: strings.ToUpper(g.Scheme)}
		for j, h := range g.HTTPHeaders {
			if h.Name == "" || strings.ContainsAny(h.Name, " \t\r\n:") || strings.ContainsAny(h.Value, "\r\n\x00") {
				return Probe{}, fmt.Errorf("httpGet.httpHeaders[%d]: invalid header %q: %q", j, h.Name, h.Value)
			}
			if a.Headers == nil {
				a.Headers = make(http.Header)
			}
			a.Headers.Add(h.Name, h.Value)
		}
		if strings.ContainsAny(g.Path, " \t\r\n\x00") {
			return Probe{}, fmt.Errorf("httpGet.path: %q contains whitespace or control characters", g.Path)
		}
		p.HTTPGet = a
	}
	return p, nil
}

// MarshalJSON encodes p in corev1.Probe's JSON shape (ParseProbes reads it back).
func (p Probe) MarshalJSON() ([]byte, error) {
	var r probeOut
	r.TimeoutSeconds = int(p.Timeout / time.Second)
	r.PeriodSeconds = int(p.Period / time.Second)
	r.SuccessThreshold = p.SuccessThreshold
	if p.TCPSocket != nil {
		r.TCPSocket = &tcpOut{Host: p.TCPSocket.Host, Port: p.TCPSocket.Port}
	}
	if p.GRPC != nil {
		r.GRPC = &grpcOut{Port: p.GRPC.Port, Service: p.GRPC.Service}
	}
	if g := p.HTTPGet; g != nil {
		o := &httpOut{Host: g.Host, Port: g.Port, Path: g.Path, Scheme: g.Scheme}
		for _, name := range sortedKeys(g.Headers) {
			for _, v := range g.Headers[name] {
				o.HTTPHeaders = append(o.HTTPHeaders, headerOut{name, v})
			}
		}
		r.HTTPGet = o
	}
	return json.Marshal(r)
}

type probeOut struct {
	GRPC             *grpcOut `json:"grpc,omitempty"`
	TCPSocket        *tcpOut  `json:"tcpSocket,omitempty"`
	HTTPGet          *httpOut `json:"httpGet,omitempty"`
	TimeoutSeconds   int      `json:"timeoutSeconds,omitempty"`
	PeriodSeconds    int      `json:"periodSeconds,omitempty"`
	SuccessThreshold int      `json:"successThreshold,omitempty"`
}
type grpcOut struct {
	Port    int    `json:"port"`
	Service string `json:"service,omitempty"`
}
type tcpOut struct {
	Host string `json:"host,omitempty"`
	Port int    `json:"port"`
}
type httpOut struct {
	Host        string      `json:"host,omitempty"`
	Port        int         `json:"port"`
	Path        string      `json:"path,omitempty"`
	Scheme      string      `json:"scheme,omitempty"`
	HTTPHeaders []headerOut `json:"httpHeaders,omitempty"`
}
type headerOut struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// Knative's aggressive probing (knative.dev/serving/pkg/queue/readiness/probe.go).
const (
	aggressiveInterval = 50 * time.Millisecond
	aggressiveAttempt  = 100 * time.Millisecond
	aggressiveWindow   = 10 * time.Second
)

// kubeProbeUA is the User-Agent of readiness checks, Knative's "kube-probe/" +
// major + "/" + minor with both left empty.
const kubeProbeUA = "kube-probe//"

// readiness runs the readiness probes of the user container, single-flight:
// concurrent callers share the run in progress. The caller that starts a run executes
// it on its own goroutine (bounded by its ctx), so no goroutine outlives a check.
type readiness struct {
	probes []Probe
	client *http.Client // no keep-alive
	h2c    *http.Client // cleartext HTTP/2 for gRPC, no keep-alive
	dialer net.Dialer
	// http2Auto makes HTTP checks try cleartext HTTP/2 before HTTP/1.1.
	http2Auto bool
	// clock times aggressive probing (its ticker and its window).
	clock Clock

	mu struct {
		sync.Mutex
		run       *probeRun // in progress, or nil
		joined    int       // callers waiting for a run they did not start
		successes []int     // consecutive successes per probe, kept across runs
	}
}

type probeRun struct {
	done chan struct{}
	ok   bool
}

func newReadiness(probes []Probe, http2Auto bool, clock Clock) *readiness {
	r := &readiness{probes: probes, http2Auto: http2Auto, clock: clock}
	r.client = &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a 3xx is a success, as for the kubelet
		},
	}
	h2 := &http.Transport{DisableKeepAlives: true, Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	r.h2c = &http.Client{Transport: h2}
	r.mu.successes = make([]int, len(probes))
	return r
}

// check reports whether all probes pass, joining a run in progress if there is one.
func (r *readiness) check(ctx context.Context) bool {
	if len(r.probes) == 0 {
		return true
	}
	r.mu.Lock()
	run := r.mu.run
	if run == nil {
		run = &probeRun{done: make(chan struct{})}
		r.mu.run = run
		r.mu.Unlock()
		r.do(ctx, run)
		return run.ok
	}
	r.mu.joined++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.mu.joined--
		r.mu.Unlock()
	}()
	select {
	case <-run.done:
		return run.ok
	case <-ctx.Done():
		return false
	}
}

func (r *readiness) do(ctx context.Context, run *probeRun) {
	ok := true
	if len(r.probes) == 1 {
		ok = r.probe(ctx, 0)
	} else {
		results := make([]bool, len(r.probes))
		var wg sync.WaitGroup
		for i := range r.probes {
			wg.Go(func() { results[i] = r.probe(ctx, i) })
		}
		wg.Wait()
		for _, v := range results {
			ok = ok && v
		}
	}
	r.mu.Lock()
	r.mu.run = nil
	r.mu.Unlock()
	run.ok = ok
	close(run.done)
}

// probe runs probe i once (Period > 0) or aggressively until it passes or the window ends.
func (r *readiness) probe(ctx context.Context, i int) bool {
	p := r.probes[i]
	threshold := max(p.SuccessThreshold, 1)
	if p.Period > 0 {
		timeout := p.Timeout
		if timeout <= 0 {
			timeout = time.Second
		}
		return r.record(i, r.attempt(ctx, p, timeout), threshold)
	}
	deadline := r.clock.Now().Add(aggressiveWindow)
	ticker := r.clock.NewTicker(aggressiveInterval)
	defer ticker.Stop()
	for {
		if r.record(i, r.attempt(ctx, p, aggressiveAttempt), threshold) {
			return true
		}
		if r.clock.Now().After(deadline) {
			return false
		}
		select {
		case <-ticker.C():
		case <-ctx.Done():
			return false
		}
	}
}

// record counts one attempt's result and reports whether the threshold is met.
func (r *readiness) record(i int, ok bool, threshold int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		r.mu.successes[i] = 0
		return false
	}
	r.mu.successes[i]++
	return r.mu.successes[i] >= threshold
}

func (r *readiness) attempt(ctx context.Context, p Probe, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.TCPSocket != nil:
		c, err := r.dialer.DialContext(ctx, "tcp", net.JoinHostPort(hostOrLoopback(p.TCPSocket.Host), strconv.Itoa(p.TCPSocket.Port)))
		if err != nil {
			return false
		}
		c.Close()
		return true
	case p.HTTPGet != nil:
		if r.http2Auto {
			// Knative's ENABLE_HTTP2_AUTO_DETECTION: h2c first, HTTP/1.1 if the app
			// does not speak it.
			if code, err := r.httpGet(ctx, r.h2c, p.HTTPGet); err == nil {
				return code >= 200 && code < 400
			}
		}
		code, err := r.httpGet(ctx, r.client, p.HTTPGet)
		return err == nil && code >= 200 && code < 400
	case p.GRPC != nil:
		return r.grpcCheck(ctx, p.GRPC)
	}
	return false
}

// httpGet runs one HTTP readiness request and returns its status.
func (r *readiness) httpGet(ctx context.Context, c *http.Client, g *HTTPGetAction) (int, error) {
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(hostOrLoopback(g.Host), strconv.Itoa(g.Port))+path, nil)
	if err != nil {
		return 0, err
	}
	for k, v := range g.Headers {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", kubeProbeUA)
	if h := g.Headers.Get("Host"); h != "" {
		req.Host = h
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 10<<10))
	res.Body.Close()
	return res.StatusCode, nil
}

// grpcCheck calls grpc.health.v1.Health/Check by hand (one unary call: a 5-byte
// frame header and the HealthCheckRequest protobuf) and reports whether the answer is
// grpc-status 0 with status SERVING.
func (r *readiness) grpcCheck(ctx context.Context, g *GRPCAction) bool {
	msg := []byte{}
	if g.Service != "" {
		msg = append(msg, 1<<3|2) // field 1 (service), length-delimited
		msg = binary.AppendUvarint(msg, uint64(len(g.Service)))
		msg = append(msg, g.Service...)
	}
	frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	frame = append(frame, msg...)
	url := "http://" + net.JoinHostPort(hostOrLoopback(g.Host), strconv.Itoa(g.Port)) + "/grpc.health.v1.Health/Check"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(frame))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("User-Agent", kubeProbeUA)
	res, err := r.h2c.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil || res.StatusCode != http.StatusOK {
		return false
	}
	st := res.Trailer.Get("Grpc-Status")
	if st == "" {
		st = res.Header.Get("Grpc-Status") // trailers-only response
	}
	if st != "0" || len(body) < 5 || body[0] != 0 {
		return false
	}
	n := binary.BigEndian.Uint32(body[1:5])
	if uint64(n) != uint64(len(body)-5) {
		return false
	}
	return healthStatus(body[5:]) == 1 // SERVING
}

// healthStatus returns field 1 (status) of a HealthCheckResponse, 0 if absent or malformed.
func healthStatus(b []byte) uint64 {
	var status uint64
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return 0
		}
		b = b[n:]
		switch tag & 7 {
		case 0: // varint
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return 0
			}
			if tag>>3 == 1 {
				status = v
			}
			b = b[n:]
		case 1: // 64-bit
			if len(b) < 8 {
				return 0
			}
			b = b[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return 0
			}
			b = b[n+int(l):]
		case 5: // 32-bit
			if len(b) < 4 {
				return 0
			}
			b = b[4:]
		default:
			return 0
		}
	}
	return status
}

func hostOrLoopback(h string) string {
	if h == "" {
		return "127.0.0.1"
	}
	return h
}
