package local

// This file holds the kubelet's side of a pod's health checks: the container's
// startup, liveness and readiness probes resolved with Kubernetes' defaults
// (probeSpec), and one attempt of each handler (httpGet, tcpSocket, grpc, exec)
// against the pod's process. prober.go runs them on their schedule.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Kubernetes' probe defaults (k8s.io/kubernetes pkg/apis/core/v1 defaults.go).
const (
	defaultProbePeriod  = 10 * time.Second
	defaultProbeTimeout = time.Second
	defaultFailures     = 3
)

// probeKind names a probe in logs and in Pod.LastProbeFailure.
type probeKind string

const (
	probeStartup   probeKind = "startup"
	probeLiveness  probeKind = "liveness"
	probeReadiness probeKind = "readiness"
)

// probeSpec is one probe of the container, resolved: a handler aimed at the pod's
// loopback address, and its timings with Kubernetes' defaults filled in.
type probeSpec struct {
	kind probeKind

	// Exactly one handler is set.
	http *httpProbe
	tcp  *portRef
	grpc *grpcProbe
	exec []string

	initialDelay time.Duration
	period       time.Duration // > 0
	timeout      time.Duration // > 0
	successes    int           // >= 1; always 1 for liveness and startup
	failures     int           // >= 1
	// grace replaces Options.TerminationGrace when the probe restarts the
	// container (the probe's terminationGracePeriodSeconds); negative means unset.
	grace time.Duration
}

// portRef is a probe's port: 0 means the pod's user port ($PORT).
type portRef int

func (p portRef) resolve(userPort int) int {
	if p == 0 {
		return userPort
	}
	return int(p)
}

type httpProbe struct {
	path    string
	port    portRef
	headers http.Header
}

type grpcProbe struct {
	port    portRef
	service string
}

// probeSet is a container's probes; readiness is never nil (Knative gives every
// serving container one: a TCP check of its port when the manifest has none).
type probeSet struct {
	startup, liveness, readiness *probeSpec
}

// probesFor resolves the container's probes. Its errors name the field the local
// runtime cannot honour.
func probesFor(c corev1.Container) (probeSet, error) {
	var ps probeSet
	var err error
	if ps.startup, err = resolveProbe(c, c.StartupProbe, probeStartup); err != nil {
		return ps, err
	}
	if ps.liveness, err = resolveProbe(c, c.LivenessProbe, probeLiveness); err != nil {
		return ps, err
	}
	rp := c.ReadinessProbe
	if rp == nil || (rp.HTTPGet == nil && rp.TCPSocket == nil && rp.GRPC == nil && rp.Exec == nil) {
		// Knative's default readiness probe: tcpSocket on the serving port, with the
		// timings the manifest gave (if it gave a probe without a handler).
		def := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
		if rp != nil {
			def.InitialDelaySeconds, def.PeriodSeconds, def.TimeoutSeconds = rp.InitialDelaySeconds, rp.PeriodSeconds, rp.TimeoutSeconds
			def.SuccessThreshold, def.FailureThreshold = rp.SuccessThreshold, rp.FailureThreshold
		}
		rp = def
	}
	if ps.readiness, err = resolveProbe(c, rp, probeReadiness); err != nil {
		return ps, err
	}
	return ps, nil
}

// resolveProbe turns one corev1.Probe into a probeSpec; nil for no probe.
func resolveProbe(c corev1.Container, pr *corev1.Probe, kind probeKind) (*probeSpec, error) {
	if pr == nil {
		return nil, nil
	}
	field := "spec.containers[0]." + string(kind) + "Probe"
	bad := func(sub, format string, args ...any) error {
		return fmt.Errorf("%s.%s: %s", field, sub, fmt.Sprintf(format, args...))
	}
	s := &probeSpec{kind: kind, grace: -1}
	port := func(sub string, p intstr.IntOrString) (portRef, error) {
		return probePort(c, p, func(msg string) error { return bad(sub, "%s", msg) })
	}
	h := pr.ProbeHandler
	n := 0
	var err error
	if g := h.HTTPGet; g != nil {
		n++
		if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
			return nil, bad("httpGet.scheme", "%q is not supported by the local runtime (only HTTP: the pod listens on loopback)", g.Scheme)
		}
		hp := &httpProbe{path: g.Path, headers: http.Header{}}
		if hp.port, err = port("httpGet.port", g.Port); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(hp.path, "/") {
			hp.path = "/" + hp.path
		}
		for i, hd := range g.HTTPHeaders {
			if hd.Name == "" {
				return nil, bad(fmt.Sprintf("httpGet.httpHeaders[%d].name", i), "must not be empty")
			}
			hp.headers.Add(hd.Name, hd.Value)
		}
		s.http = hp
	}
	if t := h.TCPSocket; t != nil {
		n++
		p, err := port("tcpSocket.port", t.Port)
		if err != nil {
			return nil, err
		}
		s.tcp = &p
	}
	if g := h.GRPC; g != nil {
		n++
		gp := &grpcProbe{}
		if gp.port, err = port("grpc.port", intstr.FromInt32(g.Port)); err != nil {
			return nil, err
		}
		if g.Service != nil {
			gp.service = *g.Service
		}
		s.grpc = gp
	}
	if e := h.Exec; e != nil {
		n++
		if len(e.Command) == 0 || e.Command[0] == "" {
			return nil, bad("exec.command", "must not be empty")
		}
		s.exec = append([]string(nil), e.Command...)
	}
	if n != 1 {
		return nil, fmt.Errorf("%s: must have exactly one of httpGet, tcpSocket, grpc and exec, got %d", field, n)
	}
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"initialDelaySeconds", pr.InitialDelaySeconds},
		{"periodSeconds", pr.PeriodSeconds},
		{"timeoutSeconds", pr.TimeoutSeconds},
		{"successThreshold", pr.SuccessThreshold},
		{"failureThreshold", pr.FailureThreshold},
	} {
		if f.v < 0 {
			return nil, bad(f.name, "%d must not be negative", f.v)
		}
	}
	if kind != probeReadiness && pr.SuccessThreshold > 1 {
		return nil, bad("successThreshold", "%d: must be 1 for a %s probe", pr.SuccessThreshold, kind)
	}
	s.initialDelay = time.Duration(pr.InitialDelaySeconds) * time.Second
	s.period = orDefault(time.Duration(pr.PeriodSeconds)*time.Second, defaultProbePeriod)
	s.timeout = orDefault(time.Duration(pr.TimeoutSeconds)*time.Second, defaultProbeTimeout)
	s.successes = max(int(pr.SuccessThreshold), 1)
	s.failures = int(pr.FailureThreshold)
	if s.failures == 0 {
		s.failures = defaultFailures
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil {
		if *g < 0 {
			return nil, bad("terminationGracePeriodSeconds", "%d must not be negative", *g)
		}
		s.grace = time.Duration(*g) * time.Second
	}
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// probePort maps a probe's port to the pod's: Knative's container listens on its
// one declared port (or 8080), which here is $PORT, a free loopback port. So port
// 0, the declared containerPort and the declared port's name all mean the user
// port; any other number is probed as it is (an app's own health port).
func probePort(c corev1.Container, p intstr.IntOrString, bad func(string) error) (portRef, error) {
	var declared corev1.ContainerPort
	if len(c.Ports) > 0 {
		declared = c.Ports[0]
	}
	if p.Type == intstr.String {
		if p.StrVal != "" && p.StrVal != declared.Name {
			return 0, bad(fmt.Sprintf("named port %q is not the container's port (the local runtime gives the container one port, $PORT)", p.StrVal))
		}
		return 0, nil
	}
	switch n := p.IntValue(); {
	case n == 0 || (declared.ContainerPort != 0 && n == int(declared.ContainerPort)):
		return 0, nil
	case n == 8080 && declared.ContainerPort == 0:
		return 0, nil // Knative's default user port
	case n < 0 || n > 65535:
		return 0, bad(fmt.Sprintf("%d is not a port (1..65535)", n))
	default:
		return portRef(n), nil
	}
}

// kubeProbeUA is the User-Agent of the runtime's HTTP and gRPC probes, as the
// kubelet's ("kube-probe/<major>.<minor>"); "servekit" stands for the version.
const kubeProbeUA = "kube-probe/servekit"

// maxProbeOutput bounds what an exec probe's output or an HTTP probe's body adds
// to a failure message (the kubelet reads 10 KiB; a status line needs less).
const maxProbeOutput = 1 << 10

// prober runs single attempts of probes against one pod. Its zero value is not
// usable; newProber builds it.
type prober struct {
	client *http.Client // HTTP/1.1, no keep-alive, redirects not followed
	h2c    *http.Client // cleartext HTTP/2 (gRPC), no keep-alive
	env    []string     // the pod's environment, PORT included (exec)
	dir    string       // the pod's working directory (exec)
}

func newProber(env []string, dir string) *prober {
	h1 := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	h2 := &http.Transport{DisableKeepAlives: true, Proxy: nil, Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	return &prober{
		client: &http.Client{Transport: h1, CheckRedirect: func(*http.Request, []*http.Request) error {
			// A redirect is a success, as the kubelet counts one to another host;
			// following it could leave loopback.
			return http.ErrUseLastResponse
		}},
		h2c: &http.Client{Transport: h2},
		env: env,
		dir: dir,
	}
}

// close releases the prober's idle connections (there are none with keep-alive
// off; this keeps it so if that changes).
func (pb *prober) close() {
	pb.client.CloseIdleConnections()
	pb.h2c.CloseIdleConnections()
}

// attempt runs s once against the pod whose app listens on userPort, bounded by
// s.timeout, and returns nil on success or why it failed.
func (pb *prober) attempt(ctx context.Context, s *probeSpec, userPort int) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	switch {
	case s.http != nil:
		return pb.httpGet(ctx, s.http, userPort)
	case s.tcp != nil:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", loopback(s.tcp.resolve(userPort)))
		if err != nil {
			return err
		}
		return c.Close()
	case s.grpc != nil:
		return pb.grpcCheck(ctx, s.grpc, userPort)
	case s.exec != nil:
		return pb.run(ctx, s.exec, userPort)
	}
	return errors.New("no handler")
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// httpGet is the kubelet's HTTP check: a GET, success for a status in 200..399.
func (pb *prober) httpGet(ctx context.Context, h *httpProbe, userPort int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+loopback(h.port.resolve(userPort))+h.path, nil)
	if err != nil {
		return err
	}
	for k, v := range h.headers {
		req.Header[k] = v
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", kubeProbeUA)
	}
	if host := h.headers.Get("Host"); host != "" {
		req.Host = host
	}
	res, err := pb.client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxProbeOutput))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode >= 400 {
		// The kubelet's wording, so that a message reads as it does in kubectl describe.
		msg := fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode)
		if b := strings.TrimSpace(string(body)); b != "" {
			msg += ": " + b
		}
		return errors.New(msg)
	}
	return nil
}

// grpcCheck calls grpc.health.v1.Health/Check once over cleartext HTTP/2, the
// kubelet's gRPC probe: success when the call returns grpc-status 0 and the
// HealthCheckResponse says SERVING.
func (pb *prober) grpcCheck(ctx context.Context, g *grpcProbe, userPort int) error {
	var msg []byte
	if g.service != "" {
		msg = protowire.AppendTag(msg, 1, protowire.BytesType) // HealthCheckRequest.service
		msg = protowire.AppendString(msg, g.service)
	}
	frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg))) // not compressed, length
	frame = append(frame, msg...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+loopback(g.port.resolve(userPort))+"/grpc.health.v1.Health/Check", bytes.NewReader(frame))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("User-Agent", kubeProbeUA)
	if d, ok := ctx.Deadline(); ok {
		req.Header.Set("Grpc-Timeout", strconv.FormatInt(max(time.Until(d).Milliseconds(), 1), 10)+"m")
	}
	res, err := pb.h2c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("gRPC probe: HTTP status %d", res.StatusCode)
	}
	st, stMsg := res.Trailer.Get("Grpc-Status"), res.Trailer.Get("Grpc-Message")
	if st == "" {
		st, stMsg = res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message") // trailers-only
	}
	if st != "0" {
		return fmt.Errorf("gRPC probe: rpc error: code = %s desc = %s", st, stMsg)
	}
	status, err := healthStatus(body)
	if err != nil {
		return fmt.Errorf("gRPC probe: %w", err)
	}
	if status != 1 {
		return fmt.Errorf("service unhealthy (responded with %q)", healthStatusName(status))
	}
	return nil
}

// healthStatus reads the one length-prefixed HealthCheckResponse of body and
// returns its status field (1), 0 (UNKNOWN) when absent.
func healthStatus(body []byte) (uint64, error) {
	if len(body) < 5 || body[0] != 0 {
		return 0, errors.New("malformed response frame")
	}
	n := binary.BigEndian.Uint32(body[1:5])
	b := body[5:]
	if uint64(n) != uint64(len(b)) {
		return 0, errors.New("malformed response frame")
	}
	var status uint64
	for len(b) > 0 {
		num, typ, tn := protowire.ConsumeTag(b)
		if tn < 0 {
			return 0, protowire.ParseError(tn)
		}
		b = b[tn:]
		if num == 1 && typ == protowire.VarintType {
			v, vn := protowire.ConsumeVarint(b)
			if vn < 0 {
				return 0, protowire.ParseError(vn)
			}
			status, b = v, b[vn:]
			continue
		}
		fn := protowire.ConsumeFieldValue(num, typ, b)
		if fn < 0 {
			return 0, protowire.ParseError(fn)
		}
		b = b[fn:]
	}
	return status, nil
}

func healthStatusName(s uint64) string {
	switch s {
	case 0:
		return "UNKNOWN"
	case 1:
		return "SERVING"
	case 2:
		return "NOT_SERVING"
	case 3:
		return "SERVICE_UNKNOWN"
	}
	return strconv.FormatUint(s, 10)
}

// run is the exec check: argv in the pod's environment and working directory, in
// its own process group, success on exit status 0. At ctx's end (the probe's
// timeout) the whole group is killed.
func (pb *prober) run(ctx context.Context, argv []string, userPort int) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(append([]string(nil), pb.env...), "PORT="+strconv.Itoa(userPort))
	cmd.Dir = pb.dir
	out := &capped{max: maxProbeOutput}
	cmd.Stdout, cmd.Stderr = out, out
	startInGroup(cmd)
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, sigKill) }
	cmd.WaitDelay = 500 * time.Millisecond // a forked child holding the pipe must not block Wait
	err := cmd.Run()
	if cmd.Process != nil {
		_ = signalGroup(cmd.Process.Pid, sigKill) // whatever it forked goes with it
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("command %q timed out", strings.Join(argv, " "))
	}
	msg := fmt.Sprintf("command %q: %v", strings.Join(argv, " "), err)
	if o := strings.TrimSpace(out.b.String()); o != "" {
		msg += ": " + o
	}
	return errors.New(msg)
}

// capped keeps the first max bytes written to it and accepts (drops) the rest, so
// the probe's program never blocks or fails on its output.
type capped struct {
	max int
	b   bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
