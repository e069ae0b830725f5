package queue

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"
)

// closeGoingAway is the websocket close frame the proxy sends a client at the drain's
// stream deadline (RFC 6455 5.5.1): FIN + opcode 8, unmasked as a server's frames
// are, payload the status code 1001 ("going away") and its reason.
var closeGoingAway = func() []byte {
	const reason = "going away"
	f := []byte{0x88, byte(2 + len(reason)), 0x03, 0xe9} // 1001 = 0x03e9
	return append(f, reason...)
}()

// closeHandshakeTimeout bounds, at the stream deadline, the write of the close frame
// to a client and the wait for its answer before the connection is closed.
const closeHandshakeTimeout = 2 * time.Second

// addStreamLocked makes tw a stream the drain's deadline ends. tw.mu is held.
func (p *Proxy) addStreamLocked(tw *timeoutWriter) {
	tw.stream = true
	p.streams.Lock()
	p.streams.m[tw] = tw.seq
	p.streams.Unlock()
}

func (p *Proxy) removeStream(tw *timeoutWriter) {
	p.streams.Lock()
	delete(p.streams.m, tw)
	p.streams.Unlock()
}

// WaitDrained waits, once Drain has returned, for the requests still in flight, up
// to ctx. Long-lived streams (ProxyOptions.DrainStreamDeadline: upgraded connections,
// gRPC calls, event streams) get the stream deadline from the start of the drain:
// those still open then are closed cleanly — a websocket gets a close frame 1001
// "going away" and its app side is closed, a gRPC call ends with status Unavailable
// (which clients may retry), an event stream's response ends — and counted: the
// Reporter, if it is a DrainReporter, is told then, and one log line gives the
// numbers. Other requests go on until they end or ctx does. When ctx has a deadline sooner than the stream deadline, the streams are
// closed a little before it (the time a close handshake gets), so that ctx does not
// cut them. It returns nil once no request is in flight, or ctx's error. Called without a drain, the deadline counts from the
// call. Run calls it; an embedder that drains with Drain calls it before stopping
// the app.
func (p *Proxy) WaitDrained(ctx context.Context) error {
	now := p.sinceStart()
	from := now
	if p.draining.Load() {
		from = time.Duration(p.drainStart.Load())
	}
	passed := false
	deadline := func() {
		rep := p.closeStreams()
		passed = true
		p.log.Info("queue: drain stream deadline passed: streams closed", "streamDeadline", p.opts.DrainStreamDeadline,
			"websocket", rep.Websocket, "http2", rep.HTTP2, "http1", rep.HTTP1)
		if dr, ok := p.reporter.(DrainReporter); ok {
			dr.ReportDrain(rep)
		}
	}
	wait := from + p.opts.DrainStreamDeadline - now
	if d, ok := ctx.Deadline(); ok {
		// ctx would cut the streams before their deadline: close them cleanly first.
		// (ctx deadlines, like network deadlines, are on the real clock.)
		wait = min(wait, d.Sub(RealClock{}.Now())-closeHandshakeTimeout)
	}
	var err error
	if wait <= 0 {
		deadline()
		err = p.WaitIdle(ctx)
	} else {
		fired := make(chan struct{})
		t := p.clock.AfterFunc(wait, func() { defer close(fired); deadline() })
		err = p.WaitIdle(ctx)
		if !t.Stop() {
			<-fired
		}
	}
	if !passed {
		p.log.Info("queue: drained before the stream deadline", "streamDeadline", p.opts.DrainStreamDeadline, "stillInFlight", p.active.Load())
	}
	return err
}

// closeStreams closes every stream still open (see WaitDrained) and counts them.
func (p *Proxy) closeStreams() DrainReport {
	var rep DrainReport
	for _, c := range p.hijackedConns() {
		if c.goAway() {
			rep.Websocket++
		}
	}
	p.streams.Lock()
	type entry struct {
		tw  *timeoutWriter
		seq uint64
	}
	streams := make([]entry, 0, len(p.streams.m))
	for tw, seq := range p.streams.m {
		streams = append(streams, entry{tw, seq})
	}
	p.streams.Unlock()
	for _, e := range streams {
		switch ended, h2 := e.tw.endStream(e.seq); {
		case ended && h2:
			rep.HTTP2++
		case ended:
			rep.HTTP1++
		}
	}
	return rep
}

// trackedConn is a hijacked (upgraded) client connection. Its writes come from the
// reverse proxy's copy of the app's bytes; a websocket's are parsed just enough to
// know where a frame ends, so that at the drain's stream deadline a close frame can
// be written between two of the app's frames.
type trackedConn struct {
	net.Conn
	p         *Proxy
	cancel    context.CancelFunc // ends the request: the reverse proxy closes the app side
	websocket bool
	once      sync.Once

	mu        sync.Mutex // serializes writes with goAway; guards the fields below
	frames    frameTracker
	goingAway bool
	closed    bool
}

func (c *trackedConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goingAway || c.closed {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Write(b)
	if c.websocket {
		c.frames.feed(b[:n])
	}
	return n, err
}

// goAway ends the connection at the drain's stream deadline: a websocket's client
// gets a close frame 1001 "going away" (unless the app is in the middle of a frame,
// or has sent its own close frame), no more of the app's bytes, and the request is
// cancelled, which closes the app's side; the reverse proxy then closes this
// connection (Close waits for the client's answer). It reports whether the connection
// was still open.
func (c *trackedConn) goAway() bool {
	// A client that does not read must not hold the deadline up: bound the write in
	// progress (if any) and the close frame.
	_ = c.Conn.SetWriteDeadline(RealClock{}.Now().Add(closeHandshakeTimeout))
	c.mu.Lock()
	if c.goingAway || c.closed {
		c.mu.Unlock()
		return false
	}
	c.goingAway = true
	if c.websocket && c.frames.boundary() && !c.frames.closeSent {
		_, _ = c.Conn.Write(closeGoingAway)
	}
	c.mu.Unlock()
	c.cancel()
	return true
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.p.hijacked.Lock()
		delete(c.p.hijacked.conns, c)
		c.p.hijacked.Unlock()
	})
	c.mu.Lock()
	away := c.goingAway && !c.closed
	c.closed = true
	c.mu.Unlock()
	if away {
		// Half-close and read the client's answer (its close frame, then its end of
		// the connection) before closing: a socket closed with unread input resets
		// the connection, and a reset can destroy the close frame before the client
		// has read it.
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_ = c.Conn.SetReadDeadline(RealClock{}.Now().Add(closeHandshakeTimeout))
		_, _ = io.Copy(io.Discard, c.Conn)
	}
	return c.Conn.Close()
}

// frameTracker follows the websocket frames of a byte stream (RFC 6455 5.2): only
// the headers are read, payloads are skipped by length.
type frameTracker struct {
	hdr       [14]byte // the header being read
	hdrN      int      // bytes of it read
	remaining uint64   // payload bytes of the current frame still to come
	closeSent bool     // a close frame (opcode 8) went by
}

// boundary reports whether the stream is between two frames.
func (f *frameTracker) boundary() bool { return f.hdrN == 0 && f.remaining == 0 }

func (f *frameTracker) feed(b []byte) {
	for len(b) > 0 {
		if f.remaining > 0 {
			n := min(uint64(len(b)), f.remaining)
			f.remaining -= n
			b = b[n:]
			continue
		}
		f.hdr[f.hdrN] = b[0]
		f.hdrN++
		b = b[1:]
		if f.hdrN < 2 {
			continue
		}
		need := 2
		switch f.hdr[1] & 0x7f {
		case 126:
			need += 2
		case 127:
			need += 8
		}
		if f.hdr[1]&0x80 != 0 {
			need += 4 // masking key
		}
		if f.hdrN < need {
			continue
		}
		switch l := f.hdr[1] & 0x7f; l {
		case 126:
			f.remaining = uint64(binary.BigEndian.Uint16(f.hdr[2:4]))
		case 127:
			f.remaining = binary.BigEndian.Uint64(f.hdr[2:10])
		default:
			f.remaining = uint64(l)
		}
		if f.hdr[0]&0x0f == 8 {
			f.closeSent = true
		}
		f.hdrN = 0
	}
}
