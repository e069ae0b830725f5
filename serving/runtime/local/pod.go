package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/servekit/servekit/serving/runtime"
)

// pod is one pod: a front (the queue proxy) on its own loopback port, and the user's
// process behind it, restarted when it crashes. Its goroutine (run) owns the process.
type pod struct {
	r    *Runtime
	rev  *revision // never changes
	name string
	// asked orders the pods of all revisions by when they were asked for.
	asked uint64

	started bool // guarded by Runtime.mu: run's goroutine was started

	stopOnce sync.Once
	stop     chan struct{} // closed by terminate: drain and stop

	mu struct {
		sync.Mutex
		state    PodState
		addr     string
		restarts int
		lastExit string
		pid      int
		// reason says why a running pod is not ready (PodNotReady).
		reason string
		// lastProbe is the last failed probe attempt; zero if none failed.
		lastProbe runtime.ProbeFailure
	}
	front Front // set (under mu) before the process starts; read-only after
}

func (p *pod) snapshot() Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Pod{Name: p.name, Address: p.mu.addr, State: p.mu.state, Restarts: p.mu.restarts, LastExit: p.mu.lastExit, PID: p.mu.pid,
		LastProbeFailure: p.mu.lastProbe}
	if s.State == "" {
		s.State = PodStarting
	}
	if s.State == PodNotReady {
		s.Reason = p.mu.reason
	}
	if f := p.frontLocked(); f != nil {
		s.InFlight = f.InFlight()
	}
	return s
}

// currentFront returns the pod's front, nil before it exists.
func (p *pod) currentFront() Front {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frontLocked()
}

// frontLocked returns the front once it exists.
func (p *pod) frontLocked() Front {
	if p.mu.addr == "" {
		return nil
	}
	return p.front
}

// terminate asks the pod to drain and stop. It is idempotent and does not notify
// (it may be called with the runtime's lock held; callers notify).
func (p *pod) terminate() {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.mu.state = PodTerminating
		p.mu.Unlock()
		close(p.stop)
	})
}

// setState records a state change and tells the runtime's listener.
func (p *pod) setState(s PodState, exit string) {
	p.mu.Lock()
	changed := p.mu.state != s
	if p.mu.state == PodTerminating && s != PodTerminating {
		p.mu.Unlock()
		return // terminating is final
	}
	p.mu.state = s
	if s != PodNotReady {
		p.mu.reason = ""
	}
	if exit != "" {
		p.mu.restarts++
		p.mu.lastExit = exit
	}
	p.mu.Unlock()
	if changed || exit != "" {
		p.r.logger.Info("pod state", "pod", p.name, "revision", p.rev.key.String(), "state", string(s), "lastExit", exit)
		p.r.notifyRev(p.rev)
	}
}

// run is the pod's life: start the front, then start and supervise the process until
// the pod is terminated or ctx is done; then drain and stop everything.
func (p *pod) run(ctx context.Context) {
	// Setting up the pod's ports and front rarely fails (no free port, a bad
	// readiness probe); when it does, it is reported and retried like a crash.
	backoff := p.r.restartBackoff()
	var (
		userPort int
		front    Front
		ln       net.Listener
	)
	for {
		var err error
		userPort, front, ln, err = p.setup()
		if err == nil {
			break
		}
		d := backoff.Step()
		p.r.logger.Error("pod: setup failed", "pod", p.name, "err", err, "retryIn", d)
		p.setState(PodCrashLoop, err.Error())
		if !p.waitRestart(ctx, d) {
			return
		}
	}
	sctx, stopServing := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := front.Serve(sctx, ln); err != nil {
			p.r.logger.Error("pod: front", "pod", p.name, "err", err)
		}
	}()
	p.mu.Lock()
	p.front = front
	p.mu.addr = ln.Addr().String()
	p.mu.Unlock()

	defer p.r.ports.release(userPort)
	p.supervise(ctx, userPort)

	// The front was drained before the process was stopped (stopProcess); now it
	// closes its listener and returns.
	stopServing()
	<-served
}

// setup picks the user port and builds and binds the front.
func (p *pod) setup() (int, Front, net.Listener, error) {
	userPort, err := p.r.ports.reserve()
	if err != nil {
		return 0, nil, nil, fmt.Errorf("no free port: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			p.r.ports.release(userPort)
		}
	}()
	fc := p.rev.spec.front
	fc.UserAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(userPort))
	fc.Pod = p.name
	front, err := p.r.opts.NewFront(fc)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("front: %w", err)
	}
	ln, err := p.r.ports.listen()
	if err != nil {
		return 0, nil, nil, fmt.Errorf("front listener: %w", err)
	}
	ok = true
	return userPort, front, ln, nil
}

// supervise starts the process, restarts it after crashes with back-off, and stops
// it (after draining the front) when the pod is terminated or ctx is done.
func (p *pod) supervise(ctx context.Context, userPort int) {
	backoff := p.r.restartBackoff()
	for {
		started := p.r.clock.Now()
		proc, err := p.startProcess(ctx, userPort)
		if err == nil {
			watchCtx, stopWatch := context.WithCancel(ctx)
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				p.watch(watchCtx, proc, userPort)
			}()
			select {
			case <-proc.exited:
				stopWatch()
				<-watched
				p.killGroup(proc) // anything it forked goes with it
				err = fmt.Errorf("%s", proc.exitReason())
			case <-p.stop:
				stopWatch()
				<-watched
				p.stopProcess(ctx, proc)
				return
			case <-ctx.Done():
				stopWatch()
				<-watched
				p.terminate()
				p.stopProcess(ctx, proc)
				return
			}
		}
		// The process could not start or it exited on its own: report and restart.
		if p.r.clock.Since(started) > 10*p.r.opts.MaxRestartBackoff {
			backoff = p.r.restartBackoff() // it ran long enough: start over
		}
		d := backoff.Step()
		p.r.logger.Warn("pod: process exited", "pod", p.name, "revision", p.rev.key.String(), "err", err, "restartIn", d)
		p.setState(PodCrashLoop, err.Error())
		if !p.waitRestart(ctx, d) {
			return
		}
	}
}

// restartBackoff is the wait before each retry of a pod's setup and each restart of
// its process: RestartBackoff, doubling per consecutive failure up to
// MaxRestartBackoff, then MaxRestartBackoff for good (Step stops growing once it
// reaches Cap). Each loop holds its own copy and takes a fresh one to start over.
func (r *Runtime) restartBackoff() wait.Backoff {
	return wait.Backoff{
		Duration: r.opts.RestartBackoff,
		Factor:   2,
		Cap:      r.opts.MaxRestartBackoff,
		Steps:    math.MaxInt32,
	}
}

// waitRestart waits d on the runtime's clock before a restart. It reports false,
// with nothing to restart, when the pod was stopped meanwhile or ctx is done (then
// the pod is terminated).
func (p *pod) waitRestart(ctx context.Context, d time.Duration) bool {
	t := p.r.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-p.stop:
		return false
	case <-ctx.Done():
		p.terminate()
		return false
	}
}

// process is one run of the user's program.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when Wait returned
	err    error         // Wait's error, readable after exited
	forget func()        // removes the record of the process group (recordPod)

	killedMu sync.Mutex
	killed   string // why a probe had the process killed (restartUnhealthy), or ""
}

// setKilled records why a probe has the process killed: its exit is reported so.
func (pr *process) setKilled(why string) {
	pr.killedMu.Lock()
	pr.killed = why
	pr.killedMu.Unlock()
}

// isKilled reports whether a probe is having the process killed.
func (pr *process) isKilled() bool {
	pr.killedMu.Lock()
	defer pr.killedMu.Unlock()
	return pr.killed != ""
}

func (pr *process) exitReason() string {
	pr.killedMu.Lock()
	killed := pr.killed
	pr.killedMu.Unlock()
	if killed != "" {
		return killed
	}
	if pr.err == nil {
		return "exited with status 0"
	}
	return pr.err.Error()
}

// startProcess starts the user's program in a new process group.
func (p *pod) startProcess(ctx context.Context, userPort int) (*process, error) {
	spec := p.rev.spec
	argv := spec.argv
	if name, ok := strings.CutPrefix(argv[0], BuiltinPrefix); ok {
		cmd, err := p.r.builder.command(ctx, name)
		if err != nil {
			return nil, err
		}
		argv = append(cmd, argv[1:]...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append([]string(nil), spec.env...), "PORT="+strconv.Itoa(userPort))
	cmd.Dir = spec.dir
	cmd.Stdout = p.r.out.forPod(p.name)
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = time.Second // a grandchild holding the output pipe must not block Wait
	startInGroup(cmd)
	superviseCmd(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", argv[0], err)
	}
	// Recorded before Wait can reap it, so the leader's start time is readable.
	pr := &process{cmd: cmd, exited: make(chan struct{}), forget: p.recordPod(cmd.Process.Pid)}
	p.mu.Lock()
	p.mu.pid = cmd.Process.Pid
	p.mu.Unlock()
	go func() {
		pr.err = cmd.Wait()
		p.mu.Lock()
		p.mu.pid = 0
		p.mu.Unlock()
		close(pr.exited)
	}()
	p.r.logger.Debug("pod: process started", "pod", p.name, "pid", cmd.Process.Pid, "argv", argv)
	return pr, nil
}

// stopProcess drains the front, sends SIGTERM to the process group, waits up to the
// termination grace for the leader to exit, then kills whatever is left of the group.
// ctx is the runtime's: once it is done (shutdown), the drain is cut short.
func (p *pod) stopProcess(ctx context.Context, pr *process) {
	// Drain the front first: requests in flight finish before the app is told to stop.
	dctx, cancel := p.drainContext(ctx)
	_ = p.front.Drain(dctx)
	cancel()
	pid := pr.cmd.Process.Pid
	_ = signalGroup(pid, sigTerm)
	t := time.NewTimer(p.r.opts.TerminationGrace)
	select {
	case <-pr.exited:
		t.Stop()
	case <-t.C:
	}
	p.killGroup(pr)
	<-pr.exited
}

// streamCloseGrace is added to a leaving pod's drain bound: the front closes the
// long-lived streams still open at its stream deadline (the revision's timeout by
// default), and their close handshakes (a websocket's close frames) need a moment
// to finish.
const streamCloseGrace = 3 * time.Second

// drainContext bounds a leaving pod's drain. A pod that leaves while the runtime runs
// (scale-down, its revision deleted or replaced) waits for its requests up to the
// revision's timeoutSeconds, or its stream deadline if that is longer (plus
// streamCloseGrace), as a Knative pod does: Knative sets the pod's
// terminationGracePeriodSeconds to the revision's timeout (the Kubernetes runtime to
// the longer of the two), and the queue proxy drains within it. A revision with no
// timeout (one not defaulted by a controller) waits Options.DrainTimeout. Once the
// runtime shuts down (ctx done), whatever is left of the wait is cut to
// Options.DrainTimeout, the platform's --drain-timeout.
func (p *pod) drainContext(ctx context.Context) (context.Context, context.CancelFunc) {
	bound := max(p.rev.spec.front.Timeout, p.rev.spec.front.DrainStreamDeadline) + streamCloseGrace
	if p.rev.spec.front.Timeout <= 0 || ctx.Err() != nil {
		bound = p.r.opts.DrainTimeout
	}
	dctx, cancel := context.WithTimeout(context.Background(), bound)
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(p.r.opts.DrainTimeout, cancel)
		context.AfterFunc(dctx, func() { t.Stop() })
	})
	return dctx, func() { stop(); cancel() }
}

// killGroup kills every process left in pr's group, and forgets its record.
func (p *pod) killGroup(pr *process) {
	// First what left the group (setsid) below the supervisor, while it still
	// holds them: it is killed with the group.
	killDescendants(pr.cmd.Process.Pid, sigKill)
	if err := signalGroup(pr.cmd.Process.Pid, sigKill); err != nil {
		p.r.logger.Warn("pod: kill", "pod", p.name, "err", err)
		return // the record stays: a later runtime tries again
	}
	pr.forget()
}

// probeJSON renders a readiness probe for the front.
func probeJSON(pr *corev1.Probe) string {
	b, err := json.Marshal(pr)
	if err != nil {
		return ""
	}
	return string(b)
}

// prefixWriter writes the pods' output to one writer, line by line, each line
// prefixed with the pod's name, so lines of different pods never interleave.
type prefixWriter struct {
	mu sync.Mutex // serialises writes to w
	w  io.Writer
}

func (pw *prefixWriter) forPod(name string) io.Writer {
	if pw.w == nil {
		return io.Discard
	}
	return &podWriter{pw: pw, prefix: []byte(name + " | ")}
}

// maxLogLine bounds one line of pod output in the log. A longer line is split into
// pieces of at most maxLogLine bytes, each but the last ending with lineContinued.
const maxLogLine = 64 << 10

// lineContinued ends every piece of a split line but the last.
const lineContinued = " [continued]"

// podWriter is one process's stdout and stderr. It always accepts everything it is
// given: a short write or an error would make os/exec stop reading the pipe, and the
// app would then die of SIGPIPE (issue 17). Lines of any length and binary output are
// cut into pieces of at most maxLogLine bytes, so its memory stays bounded too.
type podWriter struct {
	pw     *prefixWriter
	prefix []byte
	buf    []byte // an unfinished line, at most maxLogLine bytes; used only by exec's copying goroutine
}

func (w *podWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if len(w.buf) == maxLogLine {
			// A full piece is flushed once the next byte shows whether the line
			// ends there or goes on.
			if b[0] == '\n' {
				w.emit(false)
				b = b[1:]
				continue
			}
			w.emit(true)
		}
		room := maxLogLine - len(w.buf)
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i <= room {
			w.buf = append(w.buf, b[:i]...)
			w.emit(false)
			b = b[i+1:]
			continue
		}
		take := min(room, len(b))
		w.buf = append(w.buf, b[:take]...)
		b = b[take:]
	}
	return n, nil
}

// emit writes the buffered line, prefixed, and empties the buffer. A split piece
// ends with lineContinued. A failing log sink loses the line, never the pod.
func (w *podWriter) emit(split bool) {
	line := make([]byte, 0, len(w.prefix)+len(w.buf)+len(lineContinued)+1)
	line = append(append(line, w.prefix...), w.buf...)
	if split {
		line = append(line, lineContinued...)
	}
	line = append(line, '\n')
	w.pw.mu.Lock()
	_, _ = w.pw.w.Write(line)
	w.pw.mu.Unlock()
	w.buf = w.buf[:0]
}
