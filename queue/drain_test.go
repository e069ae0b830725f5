package queue

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// drainReports is a Reporter and DrainReporter that keeps the drain reports.
type drainReports struct {
	mu   sync.Mutex
	got  []DrainReport
	sent chan struct{} // closed at the first report
}

func (*drainReports) ReportRequest(RequestReport) {}

func (d *drainReports) ReportDrain(r DrainReport) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.got) == 0 {
		close(d.sent)
	}
	d.got = append(d.got, r)
}

// streamApp is a user container with one of each kind of stream: a websocket echo
// (/ws), an event stream that sends one event and then waits (/sse), a gRPC service
// with a bidirectional echo stream (servekit.test.Echo/Stream), and a plain request
// that answers when release is closed (/slow). appGone receives once per stream whose
// app side ended (the proxy closed it).
type streamApp struct {
	grpc    *grpc.Server
	release chan struct{}
	appGone chan string
}

func newStreamApp() *streamApp {
	a := &streamApp{grpc: grpc.NewServer(), release: make(chan struct{}), appGone: make(chan string, 10)}
	a.grpc.RegisterService(&grpc.ServiceDesc{
		ServiceName: "servekit.test.Echo",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, ClientStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			defer func() { a.appGone <- "grpc" }()
			for {
				m := new(wrapperspb.StringValue)
				if err := ss.RecvMsg(m); err != nil {
					return err
				}
				if err := ss.SendMsg(m); err != nil {
					return err
				}
			}
		}}},
	}, struct{}{})
	return a
}

func (a *streamApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case IsGRPC(r):
		a.grpc.ServeHTTP(w, r)
	case r.URL.Path == "/ws":
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		defer func() { a.appGone <- "websocket" }()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	case r.URL.Path == "/sse":
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		a.appGone <- "sse"
	case r.URL.Path == "/slow":
		<-a.release
		_, _ = io.WriteString(w, "slow done")
	}
}

// runProxy runs a Proxy with opts (a 1 ms quiet period unless set) on a loopback
// listener; the test stops it with cancel and reads Run's result from done.
func runProxy(t *testing.T, opts ProxyOptions) (*running, <-chan error) {
	t.Helper()
	if opts.DrainQuietPeriod == 0 {
		opts.DrainQuietPeriod = time.Millisecond
	}
	p, err := NewProxy(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, Listeners{Serving: ln}) }()
	return &running{p: p, url: "http://" + ln.Addr().String(), cancel: cancel, done: done}, done
}

// TestProxyDrainStreamDeadline: when the proxy drains, open streams go on until the
// stream deadline and are then closed cleanly — the websocket client gets a close
// frame 1001 "going away", the gRPC stream ends with Unavailable, the event stream's
// response ends — each app side is closed, and the drain reports one stream of each
// kind. A plain request in flight is not cut by the stream deadline.
func TestProxyDrainStreamDeadline(t *testing.T) {
	const deadline = 1500 * time.Millisecond
	app := newStreamApp()
	defer app.grpc.Stop()
	srv := startApp(t, app)
	rep := &drainReports{sent: make(chan struct{})}
	rp, done := runProxy(t, ProxyOptions{Target: srv.Listener.Addr().String(), DrainStreamDeadline: deadline, Reporter: rep})
	addr := strings.TrimPrefix(rp.url, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A websocket, echoing.
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := ws.Read(ctx); err != nil || string(b) != "hi" {
		t.Fatalf("websocket echo: %q, %v", b, err)
	}

	// A gRPC bidirectional stream, echoing.
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/servekit.test.Echo/Stream")
	if err != nil {
		t.Fatal(err)
	}
	if err := gs.SendMsg(wrapperspb.String("hi")); err != nil {
		t.Fatal(err)
	}
	if err := gs.RecvMsg(new(wrapperspb.StringValue)); err != nil {
		t.Fatalf("gRPC echo: %v", err)
	}

	// An event stream over HTTP/1.1, its first event read.
	c := newClient()
	defer c.CloseIdleConnections()
	sse, err := c.Do(mustReq(t, "GET", rp.url+"/sse", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Body.Close()
	br := bufio.NewReader(sse.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}

	// A plain request in flight.
	slow := make(chan result, 1)
	go func() { slow <- get(c, mustReq(t, "GET", rp.url+"/slow", nil)) }()
	waitFor(t, "the plain request in the proxy", func() bool { return rp.p.InFlight() == 4 })

	start := time.Now()
	rp.cancel()

	// The websocket: a close frame 1001 "going away", not before the deadline.
	_, _, err = ws.Read(ctx)
	wsAfter := time.Since(start)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "going away" {
		t.Errorf("websocket read at drain: %v, want a close frame 1001 \"going away\"", err)
	}
	if wsAfter < deadline {
		t.Errorf("the websocket was closed %v after the drain started, before the %v deadline", wsAfter, deadline)
	}
	// The gRPC stream: Unavailable, a status clients may retry on.
	err = gs.RecvMsg(new(wrapperspb.StringValue))
	if s := status.Convert(err); s.Code() != codes.Unavailable || !strings.Contains(s.Message(), "shutting down") {
		t.Errorf("gRPC stream at drain: %v, want Unavailable \"... shutting down ...\"", err)
	}
	// The event stream: its response ends cleanly.
	if rest, err := io.ReadAll(br); err != nil || string(rest) != "\n" {
		t.Errorf("event stream at drain: %q, %v; want a clean end", rest, err)
	}
	for range 3 {
		select {
		case <-app.appGone:
		case <-ctx.Done():
			t.Fatal("an app side of a stream is still open")
		}
	}

	// The plain request is still running: the stream deadline does not cut it.
	select {
	case <-rep.sent:
	case <-ctx.Done():
		t.Fatal("no drain report")
	}
	select {
	case r := <-slow:
		t.Fatalf("the plain request ended at the stream deadline: %+v", r)
	default:
	}
	close(app.release)
	if r := <-slow; r.code != 200 || r.body != "slow done" {
		t.Errorf("plain request: %+v, want 200 \"slow done\"", r)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return")
	}
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if want := []DrainReport{{Websocket: 1, HTTP2: 1, HTTP1: 1}}; len(rep.got) != 1 || rep.got[0] != want[0] {
		t.Errorf("drain reports %+v, want %+v", rep.got, want)
	}
}

// TestProxyDrainNoStreamsNoWait: a drain with no stream open and nothing in flight
// does not wait for the stream deadline, and reports nothing.
func TestProxyDrainNoStreamsNoWait(t *testing.T) {
	rep := &drainReports{sent: make(chan struct{})}
	srv := startApp(t, http.NotFoundHandler())
	rp, done := runProxy(t, ProxyOptions{Target: srv.Listener.Addr().String(), DrainStreamDeadline: time.Hour, Reporter: rep})
	rp.cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run waited for the stream deadline with no stream open")
	}
	select {
	case <-rep.sent:
		t.Error("a drain with no stream open reported closed streams")
	default:
	}
}

func TestFrameTracker(t *testing.T) {
	var f frameTracker
	// A masked 5-byte text frame, then a 300-byte binary frame (16-bit length) fed
	// one byte at a time, then an unmasked close frame.
	frame := []byte{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'}
	f.feed(frame[:3])
	if f.boundary() {
		t.Fatal("boundary inside a header")
	}
	f.feed(frame[3:])
	if !f.boundary() {
		t.Fatal("no boundary after a whole frame")
	}
	big := append([]byte{0x82, 126, 0x01, 0x2c}, make([]byte, 300)...)
	for i, b := range big {
		f.feed([]byte{b})
		if f.boundary() != (i == len(big)-1) {
			t.Fatalf("boundary() = %v after byte %d of %d", f.boundary(), i+1, len(big))
		}
	}
	if f.closeSent {
		t.Fatal("closeSent before a close frame")
	}
	f.feed(closeGoingAway)
	if !f.boundary() || !f.closeSent {
		t.Fatalf("after a close frame: boundary %v closeSent %v", f.boundary(), f.closeSent)
	}
}
