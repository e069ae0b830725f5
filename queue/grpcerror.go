package queue

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// gRPC status codes a hop answers with (google.golang.org/grpc/codes; the numbers are
// the gRPC protocol's, https://github.com/grpc/grpc/blob/master/doc/statuscodes.md).
const (
	// GRPCDeadlineExceeded (4) is the status of a call whose deadline passed.
	GRPCDeadlineExceeded = 4
	// GRPCUnavailable (14) is the status of a call the service could not take; gRPC
	// clients may retry it.
	GRPCUnavailable = 14
)

// IsGRPC reports whether r is a gRPC call: its Content-Type is application/grpc or
// application/grpc+<codec> (application/grpc-web is not: a gRPC-Web client reads
// its status differently).
func IsGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/grpc") {
		return false
	}
	rest := ct[len("application/grpc"):]
	return rest == "" || rest[0] == '+' || rest[0] == ';'
}

// GRPCTimeout returns the deadline of a gRPC call as its grpc-timeout header gives it
// (1 to 8 digits and a unit: H, M, S, m, u or n), and false when the header is absent
// or malformed (the gRPC protocol then treats the call as having no deadline).
func GRPCTimeout(h http.Header) (time.Duration, bool) {
	v := h.Get("Grpc-Timeout")
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 || v[0] == '+' || v[0] == '-' {
		return 0, false
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	return time.Duration(n) * unit, true // 8 digits of hours fit in a Duration
}

// WriteGRPCUpstreamError answers a gRPC call whose upstream failed before sending a
// response (the next hop refused the connection, or reset the stream) with a gRPC
// error instead of an HTTP one, as Envoy does: HTTP 200 with Content-Type
// application/grpc and grpc-status and grpc-message in the header and no body (a
// "trailers-only" response). The status is DeadlineExceeded when the call's
// grpc-timeout has passed since it arrived at this hop (elapsed), Unavailable
// otherwise. It reports false, writing nothing, when r is not a gRPC call.
//
// Without it a client sees the hop's 502 as Unavailable even when the call failed
// because its deadline passed: the app holds a copy of the deadline (grpc-timeout
// reaches it) and, when that copy ends first, it resets the stream before the client
// gives up.
func WriteGRPCUpstreamError(w http.ResponseWriter, r *http.Request, elapsed time.Duration, msg string) bool {
	if !IsGRPC(r) {
		return false
	}
	code := GRPCUnavailable
	if d, ok := GRPCTimeout(r.Header); ok && elapsed >= d {
		code, msg = GRPCDeadlineExceeded, "deadline exceeded: "+msg
	}
	WriteGRPCStatus(w, code, msg)
	return true
}

// WriteGRPCStatus writes a trailers-only gRPC response with status code and message
// (percent-encoded as the gRPC protocol asks). Nothing must have been written to w.
func WriteGRPCStatus(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(code))
	h.Set("Grpc-Message", grpcEncodeMessage(msg))
	w.WriteHeader(http.StatusOK)
}

// SetGRPCTrailerStatus sets a gRPC status code and message (percent-encoded) as
// trailers of a response whose headers are already written: how a hop ends a call
// whose answer had started (a deadline passed, a drain cut it). The trailers are sent
// when the handler returns; any status the app would still send is replaced.
func SetGRPCTrailerStatus(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set(http.TrailerPrefix+"Grpc-Status", strconv.Itoa(code))
	h.Set(http.TrailerPrefix+"Grpc-Message", grpcEncodeMessage(msg))
}

// grpcEncodeMessage percent-encodes what a grpc-message may not carry as is: bytes
// outside printable ASCII and '%'.
func grpcEncodeMessage(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}
